// Package allinone runs the gateway and every service in one process, each
// on its own loopback listener and talking real gRPC to the others, exactly
// as separate deployments would. `make run` and the end-to-end tests use it.
package allinone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/mosipcrvs/bridge/gateway"
	"github.com/mosipcrvs/bridge/pkg/config"
	"github.com/mosipcrvs/bridge/pkg/process"
	"github.com/mosipcrvs/bridge/services/auth-token/authtoken"
	"github.com/mosipcrvs/bridge/services/esignet-verify/esignetverify"
	"github.com/mosipcrvs/bridge/services/notification/notification"
	"github.com/mosipcrvs/bridge/services/packet/packet"
)

// callbackPlaceholder passes validation until the gateway's URL is known.
const callbackPlaceholder = "http://gateway.invalid/websub/callback"

// Options configures Start.
type Options struct {
	// Lookup supplies configuration, usually config.Layered(os.LookupEnv,
	// sandbox defaults). The service listen addresses come from the same
	// variables the gateway dials: AUTH_TOKEN_ADDR, PACKET_ADDR,
	// ESIGNET_VERIFY_ADDR, NOTIFICATION_ADDR; the gateway listens on HOST:PORT.
	Lookup config.Lookuper
	// Logger receives every service's logs.
	Logger *slog.Logger
}

// System is a running all-in-one deployment.
type System struct {
	// GatewayURL is the REST edge's base URL.
	GatewayURL string
	// Addrs maps each service name to its gRPC address.
	Addrs map[string]string
	errc  chan error
	n     int
}

// Wait blocks until every component has stopped (after ctx passed to Start
// ends) and returns the first error any of them reported.
func (s *System) Wait() error {
	var first error
	for range s.n {
		if err := <-s.errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

type component struct {
	name, env, def string
	lis            net.Listener
}

// Start validates every component's configuration (reporting all problems
// at once), binds every listener, and starts the services and the gateway.
// They run until ctx is done.
func Start(ctx context.Context, o Options) (*System, error) {
	look := o.Lookup
	comps := []*component{
		{name: "auth-token", env: "AUTH_TOKEN_ADDR", def: "127.0.0.1:9101"},
		{name: "packet", env: "PACKET_ADDR", def: "127.0.0.1:9102"},
		{name: "esignet-verify", env: "ESIGNET_VERIFY_ADDR", def: "127.0.0.1:9103"},
		{name: "notification", env: "NOTIFICATION_ADDR", def: "127.0.0.1:9104"},
	}

	// Configuration first, so a newcomer sees every problem before anything binds.
	var (
		atCfg  authtoken.Config
		pkCfg  packet.Config
		evCfg  esignetverify.Config
		ntCfg  notification.Config
		gwCfg  gateway.Config
		errs   []error
		addrOf = map[string]string{}
	)
	for _, c := range comps {
		addr, ok := look(c.env)
		if !ok || addr == "" {
			addr = c.def
		}
		addrOf[c.env] = addr
	}
	loadInto := func(cfg any, listenEnv string) {
		l := look
		if listenEnv != "" {
			l = config.Layered(config.MapLookuper(map[string]string{"GRPC_LISTEN_ADDR": addrOf[listenEnv]}), look)
		}
		if err := config.Load(cfg, l); err != nil {
			errs = append(errs, err)
		}
	}
	loadInto(&atCfg, "AUTH_TOKEN_ADDR")
	loadInto(&pkCfg, "PACKET_ADDR")
	loadInto(&evCfg, "ESIGNET_VERIFY_ADDR")
	// The hub calls the gateway back; its URL is known once bound, so a
	// placeholder stands in unless MOSIP_WEBSUB_CALLBACK_URL is set.
	_, callbackSet := look("MOSIP_WEBSUB_CALLBACK_URL")
	func() {
		saved := look
		look = config.Layered(look, config.MapLookuper(map[string]string{"MOSIP_WEBSUB_CALLBACK_URL": callbackPlaceholder}))
		defer func() { look = saved }()
		loadInto(&ntCfg, "NOTIFICATION_ADDR")
	}()
	loadInto(&gwCfg, "")
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	closeAll := func() {
		for _, c := range comps {
			if c.lis != nil {
				_ = c.lis.Close()
			}
		}
	}
	for _, c := range comps {
		lis, err := process.Listen(addrOf[c.env], c.env)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		c.lis = lis
	}
	// The gateway dials the addresses actually bound (":0" picks a free port).
	gwCfg.AuthTokenAddr = comps[0].lis.Addr().String()
	gwCfg.PacketAddr = comps[1].lis.Addr().String()
	gwCfg.EsignetVerifyAddr = comps[2].lis.Addr().String()
	gwCfg.NotificationAddr = comps[3].lis.Addr().String()
	pkCfg.AuthTokenAddr = comps[0].lis.Addr().String()
	ntCfg.AuthTokenAddr = comps[0].lis.Addr().String()
	ntCfg.PacketAddr = comps[1].lis.Addr().String()
	gwLis, err := process.Listen(net.JoinHostPort(gwCfg.Host, fmt.Sprint(gwCfg.Port)), "PORT")
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("gateway: %w", err)
	}

	sys := &System{Addrs: map[string]string{}, errc: make(chan error, len(comps)+1), n: len(comps) + 1}
	for _, c := range comps {
		sys.Addrs[c.name] = c.lis.Addr().String()
	}
	host := gwLis.Addr().(*net.TCPAddr)
	hostname := host.IP.String()
	if host.IP.IsUnspecified() {
		hostname = "localhost"
	}
	sys.GatewayURL = fmt.Sprintf("http://%s", net.JoinHostPort(hostname, fmt.Sprint(host.Port)))
	if !callbackSet {
		if ntCfg.CallbackURL, err = url.Parse(sys.GatewayURL + "/websub/callback"); err != nil {
			closeAll()
			_ = gwLis.Close()
			return nil, err
		}
	}

	run := func(name string, f func() error) {
		go func() {
			err := f()
			if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			sys.errc <- err
		}()
	}
	log := func(name string) *slog.Logger { return o.Logger.With(slog.String("service", name)) }
	run("auth-token", func() error { return authtoken.Run(ctx, atCfg, log("auth-token"), comps[0].lis) })
	run("packet", func() error { return packet.Run(ctx, pkCfg, log("packet"), comps[1].lis) })
	run("esignet-verify", func() error { return esignetverify.Run(ctx, evCfg, log("esignet-verify"), comps[2].lis) })
	run("notification", func() error { return notification.Run(ctx, ntCfg, log("notification"), comps[3].lis) })
	run("gateway", func() error { return gateway.Run(ctx, gwCfg, log("gateway"), gwLis) })
	return sys, nil
}
