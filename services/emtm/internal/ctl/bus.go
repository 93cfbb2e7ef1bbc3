package ctl

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/libs/planid"
)

// natsAuthCmd writes the NATS authorization block: a user per service with
// only its grant, one per pharmacy, and the admin.

func natsAuthCmd() *cobra.Command {
	var partitions int
	var pharmacies, feeds []string
	cmd := &cobra.Command{
		Use:   "nats-auth [--pharmacy NPI]... [--feed CONTRACT]...",
		Short: "Print the NATS users and permissions (least privilege) for nats-server's configuration",
		Long: `Print a nats-server authorization block: the admin (creates streams; emtmctl), one user per
service that may publish only its own events and pull only from its own durable consumers, and one
user per pharmacy that may publish only under emtm.raw.pharmacy.<its NPI>, and one per contract's
enrollment and Parts A/B feed that may publish only under emtm.raw.feed.<contract>. Each password is
read by nats-server from an environment variable (EMTM_NATS_PASSWORD_<USER>). deploy/nats/auth.conf is
its output for 4 partitions, the sample pharmacy and the sample plan's feed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if partitions < 1 || partitions > 256 {
				return fmt.Errorf("--partitions: %d is out of range 1..256", partitions)
			}
			for _, npi := range pharmacies {
				if _, err := identifiers.NPI(npi); err != nil {
					return fmt.Errorf("--pharmacy %s: %w", npi, err)
				}
			}
			for _, c := range feeds {
				if !planid.ContractPattern.MatchString(c) {
					return fmt.Errorf("--feed %q: a Part D contract is a letter and four digits, e.g. S9925", c)
				}
			}
			_, err := fmt.Fprint(cmd.OutOrStdout(), bus.AuthConfig(bus.AuthUsers(partitions, pharmacies, feeds...)))
			return err
		},
	}
	cmd.Flags().IntVar(&partitions, "partitions", 4, "beneficiary partitions of the deployment (durables per partition)")
	cmd.Flags().StringSliceVar(&pharmacies, "pharmacy", nil, "a pharmacy NPI to give a user (repeatable)")
	cmd.Flags().StringSliceVar(&feeds, "feed", nil, "a contract whose enrollment and Parts A/B feed gets a user (repeatable)")
	return cmd
}

// topologyCmd prints the event topology: what docs/architecture.md shows.
func topologyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "topology",
		Short: "Print emtm's events and durable consumers as declared in libs/bus (the tables of docs/architecture.md)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), bus.TopologyMarkdown())
			return err
		},
	}
}

// streamsCmd creates emtm's streams, as the admin, before the services start
// under least privilege (they may only check that the streams exist).
func streamsCmd(g *globals) *cobra.Command {
	streams := &cobra.Command{Use: "streams", Short: "emtm's JetStream streams"}
	var replicas int
	ensure := &cobra.Command{
		Use:   "ensure",
		Short: "Create or update every stream as specified (run as the NATS admin)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, err := g.jetstream()
			if err != nil {
				return err
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if err := bus.EnsureStreams(ctx, js, replicas); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d streams ready (replicas %d)\n", len(bus.Streams), replicas)
			return nil
		},
	}
	ensure.Flags().IntVar(&replicas, "replicas", 1, "replicas of each stream (3 in a cluster)")
	streams.AddCommand(ensure)
	return streams
}
