// Command bridgectl talks to the bridge's gRPC services from a terminal:
//
//	bridgectl [-addr host:port] token <client>            get a MOSIP token (prints expiry and a masked token)
//	bridgectl [-addr host:port] invalidate <client> <tok> drop a token MOSIP rejected
//	bridgectl [-addr host:port] clients                   token state of every client
//	bridgectl [-gateway URL] [-sandbox URL] demo birth|death  register a sample birth or death, follow it into MOSIP and back to OpenCRVS
//	bridgectl [-gateway URL] [-token-file F] demo verify       check a parent against MOSIP IDA through POST /verify
//	bridgectl [-gateway URL] [-sandbox URL] [-token-file F] demo esignet  sign in with the sandbox eSignet and fetch the verified person data
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/mosipcrvs/bridge/pkg/logging"
	"github.com/mosipcrvs/bridge/pkg/rpc"
	authtokenv1 "github.com/mosipcrvs/bridge/proto/mosipcrvs/authtoken/v1"
	"github.com/mosipcrvs/bridge/sandbox/demo"
)

func main() {
	if err := realMain(); err != nil {
		fmt.Fprintln(os.Stderr, "bridgectl:", err)
		os.Exit(1)
	}
}

func realMain() error {
	addr := flag.String("addr", "127.0.0.1:9101", "auth-token gRPC address")
	show := flag.Bool("show-token", false, "print the whole token instead of a masked one")
	gateway := flag.String("gateway", "http://127.0.0.1:2024", "REST gateway base URL (demo)")
	sandbox := flag.String("sandbox", "http://127.0.0.1:20240", "sandbox base URL (demo)")
	tokenFile := flag.String("token-file", ".run/dev-token", "OpenCRVS user token `file` for demo verify|esignet (make run writes it)")
	esignetClient := flag.String("esignet-client", "crvs-esignet-client", "eSignet client id for demo esignet (the sandbox's default)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: bridgectl [-addr host:port] [-show-token] token <client> | invalidate <client> <token> | clients\n       bridgectl [-gateway URL] [-sandbox URL] [-token-file F] demo birth|death|verify|esignet")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		flag.Usage()
		return fmt.Errorf("missing command")
	}
	if args[0] == "demo" {
		if len(args) != 2 {
			flag.Usage()
			return fmt.Errorf("demo needs birth, death, verify or esignet")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return runDemo(ctx, args[1], *gateway, *sandbox, *tokenFile, *esignetClient)
	}
	conn, err := rpc.Dial(*addr, rpc.ClientOptions{Timeout: 15 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	client := authtokenv1.NewAuthTokenServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	switch {
	case args[0] == "token" && len(args) == 2:
		resp, err := client.GetToken(ctx, &authtokenv1.GetTokenRequest{Client: args[1]})
		if err != nil {
			return err
		}
		tok := "…" + resp.GetToken()[max(0, len(resp.GetToken())-8):]
		if *show {
			tok = resp.GetToken()
		}
		fmt.Printf("client:     %s\nexpires_at: %s (in %s)\ntoken:      %s (%d chars, %s)\n", args[1],
			resp.GetExpiresAt().AsTime().Local().Format(time.RFC3339), time.Until(resp.GetExpiresAt().AsTime()).Round(time.Second),
			tok, len(resp.GetToken()), logging.Fingerprint(resp.GetToken()))
	case args[0] == "invalidate" && len(args) == 3:
		resp, err := client.InvalidateToken(ctx, &authtokenv1.InvalidateTokenRequest{Client: args[1], Token: args[2]})
		if err != nil {
			return err
		}
		fmt.Printf("invalidated: %v\n", resp.GetInvalidated())
	case args[0] == "clients" && len(args) == 1:
		resp, err := client.ListClientStates(ctx, &authtokenv1.ListClientStatesRequest{})
		if err != nil {
			return err
		}
		fmt.Println(protojson.MarshalOptions{Multiline: true, EmitUnpopulated: true}.Format(resp))
	default:
		flag.Usage()
		return fmt.Errorf("unknown command %q", args)
	}
	return nil
}

func runDemo(ctx context.Context, which, gateway, sandbox, tokenFile, esignetClient string) error {
	if which == "birth" || which == "death" {
		_, err := demo.Run(ctx, os.Stdout, gateway, sandbox, which)
		return err
	}
	if which != "verify" && which != "esignet" {
		return fmt.Errorf("demo: unknown demo %q (birth, death, verify or esignet)", which)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("demo %s needs an OpenCRVS user token (make run writes one to .run/dev-token): %w", which, err)
	}
	token := strings.TrimSpace(string(b))
	if which == "verify" {
		_, _, err = demo.Verify(ctx, os.Stdout, gateway, token)
		return err
	}
	_, err = demo.ESignet(ctx, os.Stdout, gateway, sandbox, esignetClient, token)
	return err
}
