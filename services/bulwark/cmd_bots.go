package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/decide/decider"
	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

func init() { commands = append(commands, newBotsCmd) }

func newBotsCmd(*globals) *cobra.Command {
	var (
		directory, category string
		asJSON              bool
	)
	cmd := &cobra.Command{
		Use:   "bots [--directory DIR] [--category C] [--json] | bots update | bots export-cache",
		Short: "List the bot directory (search engines, SEO tools, AI crawlers, previews ...), refresh it, or save reverse-DNS answers",
		Long: `Lists the bots Bulwark knows: name, category, operator, how a claim is
verified (published IP ranges, forward-confirmed reverse DNS, both, or
"declared": no way) and the operator's page it comes from. The rule file's
bots: section sets a policy per category and per bot; crawlers.directory
points at the directory in use (default: the one shipped with Bulwark).

Categories: ` + strings.Join(crawlers.Categories, ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := crawlers.LoadDirectory(directory)
			if err != nil {
				return usageError{err}
			}
			if category != "" && !slices.Contains(crawlers.Categories, category) {
				return usageError{fmt.Errorf("--category %q: want one of %s", category, strings.Join(crawlers.Categories, ", "))}
			}
			var bots []crawlers.Entry
			for _, e := range d.Bots {
				if category == "" || e.Category == category {
					bots = append(bots, e)
				}
			}
			return writeBots(cmd.OutOrStdout(), bots, asJSON)
		},
	}
	cmd.Flags().StringVar(&directory, "directory", "builtin", "bot directory: builtin, or a folder written by 'bots update'")
	cmd.Flags().StringVar(&category, "category", "", "only bots of this category")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON lines instead of a table")
	cmd.AddCommand(newBotsUpdateCmd(), newBotsExportCacheCmd())
	return cmd
}

func writeBots(w io.Writer, bots []crawlers.Entry, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, e := range bots {
			if err := enc.Encode(struct {
				crawlers.Entry
				Verification string `json:"verification"`
			}{e, e.Method()}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCATEGORY\tOPERATOR\tVERIFICATION\tSOURCE")
	for _, e := range bots {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Category, e.Operator, e.Method(), e.Source)
	}
	return tw.Flush()
}

func newBotsUpdateCmd() *cobra.Command {
	var cfg crawlers.UpdateConfig
	cmd := &cobra.Command{
		Use:   "update --output DIR [--url URL [--sha256 HEX]]",
		Short: "Fetch the bot directory and every published IP range list into DIR",
		Long: `Fetches the bot directory from --url (its SHA-256 must match --sha256, or
the digest published at URL.sha256; without --url the directory shipped with
this binary is used) and every range list it names (ranges_url: Google, Bing,
Apple, OpenAI, Perplexity ...), checks each, and writes DIR/bots.yaml,
DIR/ranges/NAME.json and DIR/SHA256SUMS. A file is only ever replaced by a good
one, so a failed update leaves DIR usable. Point the rule file at it:

  crawlers:
    directory: DIR

Exit 1 when some range list could not be fetched (the others are written).`,
		Example: `  bulwark bots update --output /var/lib/bulwark/bots
  bulwark bots update --url https://example.com/bulwark/bots.yaml --output /var/lib/bulwark/bots`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Output == "" {
				return usageError{fmt.Errorf("--output DIR is required")}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			res, err := crawlers.Update(ctx, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			names := make([]string, 0, len(res.Ranges))
			for n := range res.Ranges {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				fmt.Fprintf(out, "%s: %d prefixes\n", n, res.Ranges[n])
			}
			fmt.Fprintf(out, "wrote %d bots and %d range lists to %s\n", res.Bots, len(res.Ranges), cfg.Output)
			if len(res.Failed) > 0 {
				for _, e := range res.Failed {
					fmt.Fprintln(cmd.ErrOrStderr(), e)
				}
				return fmt.Errorf("%d range lists could not be updated (their previous files stay)", len(res.Failed))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Output, "output", "", "folder to write (bots.yaml, ranges/, SHA256SUMS)")
	f.StringVar(&cfg.DirectoryURL, "url", "", "where to fetch the directory file (default: the one shipped with this binary)")
	f.StringVar(&cfg.SHA256, "sha256", "", "expected SHA-256 of the directory file (default: fetched from URL.sha256)")
	return cmd
}

func newBotsExportCacheCmd() *cobra.Command {
	var from, output string
	cmd := &cobra.Command{
		Use:   "export-cache [--decider URL] [--output FILE]",
		Short: "Save a live decider's reverse-DNS answers for 'bulwark replay --rdns-cache'",
		Long: `Reads the reverse-DNS answers a running bulwark-decider (or 'bulwark dev') holds
from its admin address and writes them as an rDNS cache file. Replay uses it
to verify the bots only reverse DNS can verify (Baidu, Yandex ...) the way the
live decider did, without lookups of its own, so that it stays reproducible.`,
		Example: `  bulwark bots export-cache --decider http://127.0.0.1:8483 --output rdns.json
  bulwark replay --rdns-cache rdns.json --format nginx access.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			url := strings.TrimSuffix(from, "/") + decider.RDNSCachePath
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usageError{fmt.Errorf("--decider %q: %w", from, err)}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("read the rDNS cache from %s: %w", url, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("read the rDNS cache from %s: HTTP %s", url, resp.Status)
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
			if err != nil {
				return fmt.Errorf("read the rDNS cache from %s: %w", url, err)
			}
			answers, err := crawlers.ReadAnswers(bytes.NewReader(body))
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			w := cmd.OutOrStdout()
			if output != "" && output != "-" {
				if err := os.WriteFile(output, body, 0o644); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d reverse-DNS answers to %s\n", answers.Len(), output)
				return nil
			}
			_, err = w.Write(body)
			return err
		},
	}
	cmd.Flags().StringVar(&from, "decider", "http://127.0.0.1:8483", "the decider's admin address (BULWARK_DECIDER_METRICS_ADDR; 'bulwark dev': its --admin address)")
	cmd.Flags().StringVarP(&output, "output", "o", "-", "file to write, - for stdout")
	return cmd
}
