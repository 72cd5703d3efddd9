package mosip

import (
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
)

// Identity is a person in the sandbox's ID repository.
type Identity struct {
	UIN        string `json:"uin"`
	VID        string `json:"vid"`
	FullName   string `json:"fullName"`
	FirstName  string `json:"firstName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	// DateOfBirth is yyyy/MM/dd, as MOSIP stores it.
	DateOfBirth string `json:"dateOfBirth"`
	// Gender is lower case ("female", "male").
	Gender string `json:"gender"`
	Email  string `json:"email,omitempty"`
	Phone  string `json:"phone,omitempty"`
	// Deceased is set by a processed CRVS_DEATH packet, with DateOfDeath.
	Deceased    bool   `json:"deceased,omitempty"`
	DateOfDeath string `json:"dateOfDeath,omitempty"`
	// Fields holds every identity field of the packets that created or
	// updated this identity, as stored (strings, complex ones as JSON).
	Fields map[string]string `json:"fields,omitempty"`
	// RegistrationIDs are the packets (RIDs) that touched this identity.
	RegistrationIDs []string `json:"registrationIds,omitempty"`
}

// identities.json holds the sandbox's people: the test identities of
// OpenCRVS's MOSIP mocks (names, birth dates, genders, NIDs as UINs), so
// demos match OpenCRVS test data, each with a VID of our own.
//
//go:embed data/identities.json
var identitiesJSON []byte

// DefaultIdentities returns the built-in sandbox identities.
func DefaultIdentities() []Identity {
	var ids []Identity
	if err := json.Unmarshal(identitiesJSON, &ids); err != nil {
		panic(fmt.Sprintf("sandbox: embedded identities.json: %v", err)) // a build-time asset
	}
	return ids
}

// ErrNotFound is returned for an unknown UIN or VID.
var ErrNotFound = errors.New("identity not found")

// Registry is the sandbox's ID repository: identities by UIN and VID. It is
// safe for concurrent use; values returned are copies.
type Registry struct {
	mu    sync.RWMutex
	byUIN map[string]*Identity
	byVID map[string]string // VID → UIN
}

// NewRegistry returns a registry holding seed.
func NewRegistry(seed []Identity) *Registry {
	r := &Registry{byUIN: map[string]*Identity{}, byVID: map[string]string{}}
	for _, id := range seed {
		r.put(id)
	}
	return r
}

func (r *Registry) put(id Identity) {
	c := id
	r.byUIN[c.UIN] = &c
	if c.VID != "" {
		r.byVID[c.VID] = c.UIN
	}
}

// Lookup finds an identity by UIN or VID.
func (r *Registry) Lookup(individualID string) (Identity, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	uin := individualID
	if u, ok := r.byVID[individualID]; ok {
		uin = u
	}
	id, ok := r.byUIN[uin]
	if !ok {
		return Identity{}, ErrNotFound
	}
	return clone(*id), nil
}

// Create adds a new identity with a fresh 10-digit UIN and VID (the caller
// leaves them empty) and returns it.
func (r *Registry) Create(id Identity) Identity {
	r.mu.Lock()
	defer r.mu.Unlock()
	id.UIN = r.freshLocked(func(s string) bool { _, ok := r.byUIN[s]; return ok })
	id.VID = r.freshLocked(func(s string) bool { _, ok := r.byVID[s]; return ok })
	r.put(id)
	return clone(id)
}

// Update applies f to the identity with the given UIN or VID and returns
// the result.
func (r *Registry) Update(individualID string, f func(*Identity)) (Identity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	uin := individualID
	if u, ok := r.byVID[individualID]; ok {
		uin = u
	}
	id, ok := r.byUIN[uin]
	if !ok {
		return Identity{}, ErrNotFound
	}
	f(id)
	return clone(*id), nil
}

// All returns every identity (copies), in no particular order.
func (r *Registry) All() []Identity {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Identity, 0, len(r.byUIN))
	for _, id := range r.byUIN {
		out = append(out, clone(*id))
	}
	return out
}

// freshLocked draws random 10-digit numbers not starting with 0 until taken
// says one is free.
func (r *Registry) freshLocked(taken func(string) bool) string {
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		s := fmt.Sprintf("%d", n.Int64()+1_000_000_000)
		if !taken(s) {
			return s
		}
	}
}

func clone(id Identity) Identity {
	if id.Fields != nil {
		f := make(map[string]string, len(id.Fields))
		for k, v := range id.Fields {
			f[k] = v
		}
		id.Fields = f
	}
	id.RegistrationIDs = append([]string(nil), id.RegistrationIDs...)
	return id
}
