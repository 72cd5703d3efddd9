package authtoken

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/mosipcrvs/bridge/pkg/config"
)

func TestConfigLoad(t *testing.T) {
	t.Parallel()
	valid := map[string]string{
		"MOSIP_AUTH_URL":                  "https://mosip.example/v1/authmanager/authenticate/clientidsecretkey",
		"MOSIP_PACKET_AUTH_CLIENT_ID":     "mosip-crvs1-client",
		"MOSIP_PACKET_AUTH_CLIENT_SECRET": "s1",
		"MOSIP_WEBSUB_AUTH_CLIENT_ID":     "crvs-partner",
		"MOSIP_WEBSUB_AUTH_CLIENT_SECRET": "s2",
	}
	with := func(changes map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range valid {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name     string
		env      map[string]string
		problems []string // each must appear; the count must match
	}{
		{name: "valid", env: valid},
		{name: "valid with redis", env: with(map[string]string{"REDIS_URL": "rediss://:pw@redis:6380/2"})},
		{name: "valid with an encrypted cache", env: with(map[string]string{"REDIS_URL": "redis://redis:6379",
			"AUTH_TOKEN_CACHE_KEY": "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="})},
		{
			name:     "cache key of the wrong size",
			env:      with(map[string]string{"AUTH_TOKEN_CACHE_KEY": "dG9wc2VjcmV0Y2FjaGVrZXk="}),
			problems: []string{"AUTH_TOKEN_CACHE_KEY: want 32 bytes once base64-decoded, got 17"},
		},
		{
			name: "nothing set: every missing variable at once",
			env:  map[string]string{},
			problems: []string{
				"MOSIP_AUTH_URL is required",
				"MOSIP_PACKET_AUTH_CLIENT_ID is required", "MOSIP_PACKET_AUTH_CLIENT_SECRET is required",
				"MOSIP_WEBSUB_AUTH_CLIENT_ID is required", "MOSIP_WEBSUB_AUTH_CLIENT_SECRET is required",
			},
		},
		{
			name: "one secret missing, bad redis URL, bad fraction",
			env: with(map[string]string{
				"MOSIP_WEBSUB_AUTH_CLIENT_SECRET": "", "REDIS_URL": "http://user:topsecret@redis:6379",
				"AUTH_TOKEN_REFRESH_FRACTION": "1",
			}),
			problems: []string{
				"MOSIP_WEBSUB_AUTH_CLIENT_SECRET is required",
				`REDIS_URL must be a redis:// URL, got "http://user:xxxxx@redis:6379"`,
				"AUTH_TOKEN_REFRESH_FRACTION must be between 0 and 1 (exclusive), got 1",
			},
		},
		{
			name:     "zero timeouts",
			env:      with(map[string]string{"MOSIP_TOKEN_DEFAULT_TTL": "0s", "MOSIP_REQUEST_TIMEOUT": "0s"}),
			problems: []string{"MOSIP_TOKEN_DEFAULT_TTL must be positive", "MOSIP_REQUEST_TIMEOUT must be positive"},
		},
		{
			name:     "listen address",
			env:      with(map[string]string{"GRPC_LISTEN_ADDR": "9101"}),
			problems: []string{"GRPC_LISTEN_ADDR must be host:port"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg Config
			err := config.Load(&cfg, config.MapLookuper(tt.env))
			if len(tt.problems) == 0 {
				if err != nil {
					t.Fatalf("Load = %v", err)
				}
				return
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Load = %v, want *config.Error", err)
			}
			for _, want := range tt.problems {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q:\n%v", want, err)
				}
			}
			if len(cerr.Problems) != len(tt.problems) {
				t.Errorf("%d problems, want %d:\n%v", len(cerr.Problems), len(tt.problems), err)
			}
			for _, secret := range []string{"s1", "topsecret", "dG9wc2VjcmV0Y2FjaGVrZXk"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error reveals %q:\n%v", secret, err)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	var cfg Config
	err := config.Load(&cfg, config.MapLookuper(map[string]string{
		"MOSIP_AUTH_URL": "http://mosip/x", "MOSIP_PACKET_AUTH_CLIENT_ID": "a", "MOSIP_PACKET_AUTH_CLIENT_SECRET": "b",
		"MOSIP_WEBSUB_AUTH_CLIENT_ID": "c", "MOSIP_WEBSUB_AUTH_CLIENT_SECRET": "d", "MOSIP_WEBSUB_AUTH_CLIENT_APP_ID": "partner",
	}))
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Profile.MOSIP.Clients()
	if cfg.ListenAddr != "127.0.0.1:9101" || cfg.RedisURL != "" || cfg.RedisKeyPrefix != "mosipcrvs:authtoken:" ||
		cfg.RefreshFraction != 0.5 || cfg.ExpirySkew.String() != "30s" || cfg.MinForcedRefreshInterval.String() != "10s" ||
		c["packet"].AppID != "admin" || c["websub"].AppID != "partner" || cfg.Profile.Name != "default" {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestConfigValidateInCode(t *testing.T) {
	t.Parallel()
	// A Config built in code (no loader) is checked by New too.
	u, _ := url.Parse("http://mosip/x")
	var cfg Config
	cfg.Profile.MOSIP.AuthURL = u
	err := cfg.Validate()
	for _, want := range []string{"MOSIP_PACKET_AUTH_CLIENT_ID", "CLIENT_APP_ID or MOSIP_AUTH_CLIENT_APP_ID", "MOSIP_REQUEST_TIMEOUT", "AUTH_TOKEN_REFRESH_FRACTION"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
	if _, err := New(t.Context(), cfg, nil); err == nil {
		t.Error("New without a logger succeeded")
	}
}
