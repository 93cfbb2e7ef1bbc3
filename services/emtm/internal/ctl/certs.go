package ctl

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/grpcx"
)

// certsCmd writes local certificates for TLS and mTLS (make certs).
func certsCmd() *cobra.Command {
	var dir, caKeyDir string
	var hosts, clients []string
	var days int
	cmd := &cobra.Command{
		Use:   "certs [--client NAME=ROLE[+ROLE]]...",
		Short: "Write a development CA, a server certificate and client certificates for gRPC TLS and mTLS",
		Long: `Write a local CA (ca.pem), a server certificate (server.pem, server-key.pem) for --host names, and
one client certificate per --client (client-NAME.pem, client-NAME-key.pem). A client certificate's
organizational units are the Part D contracts its holder may act on in the scheduler API; "*" makes
an operator. For development and tests: production certificates come from the sponsor's CA.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cs []grpcx.Client
			for _, c := range clients {
				name, roles, ok := strings.Cut(c, "=")
				if !ok || name == "" {
					return fmt.Errorf("--client %q: use NAME=ROLE[+ROLE...] (a contract, *, pharmacy:NPI, feed:CONTRACT) or NAME= for none", c)
				}
				var ous []string
				if roles != "" {
					ous = strings.Split(roles, "+")
				}
				cs = append(cs, grpcx.Client{Name: name, Contracts: ous})
			}
			if days < 1 {
				return fmt.Errorf("--days: %d must be at least 1", days)
			}
			out, err := grpcx.WriteDevCerts(dir, caKeyDir, hosts, cs, time.Duration(days)*24*time.Hour)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "CA      %s (its key: %s, mode 0600, not beside the certificates)\nserver  %s %s (hosts %s)\n", out.CA, out.CAKey, out.ServerCert, out.ServerKey, strings.Join(hosts, ", "))
			for _, c := range cs {
				f := out.Clients[c.Name]
				fmt.Fprintf(w, "client  %s %s (%s: %s)\n", f[0], f[1], c.Name, strings.Join(c.Contracts, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "var/certs", "where to write the certificates and the services' and clients' keys")
	cmd.Flags().StringVar(&caKeyDir, "ca-key-dir", "var/ca", "where to keep the CA's private key (never mounted into containers)")
	cmd.Flags().StringSliceVar(&hosts, "host", []string{"localhost", "127.0.0.1", "ingestion", "risk-scoring",
		"intervention-scheduling", "prescriber-outreach", "payment-reconciliation", "console"}, "names and addresses the server certificate is valid for")
	cmd.Flags().StringArrayVar(&clients, "client", []string{"operator=*", "sponsor-s9925=S9925", "pharmacy-1245319599=pharmacy:1245319599",
		"feed-s9925=feed:S9925", "console=*", "probe="}, "a client certificate NAME=ROLE[+ROLE] (repeatable; ROLE: a contract, *, pharmacy:NPI, feed:CONTRACT)")
	cmd.Flags().IntVar(&days, "days", 365, "validity in days")
	return cmd
}

func permissionsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "permissions",
		Short: "who may call every gRPC method of every service, and which calls are audited (docs/security.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), grpcx.PermissionTable())
			return err
		},
	}
}
