package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/ingest/shipper"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

func init() { commands = append(commands, newShipCmd) }

// shipPrecheckLines is how many lines of each file `bulwark ship` parses
// before sending anything: when none of them parse, the format is wrong and
// shipping would only fill the dead-letter topic.
const shipPrecheckLines = 100

func newShipCmd(g *globals) *cobra.Command {
	var (
		pf         parseFlags
		follow     bool
		checkpoint string
		check      bool
		checkLines int
	)
	cmd := &cobra.Command{
		Use:   "ship --format F [--log-format STRING] [--check] [--follow] FILE...",
		Short: "Publish log lines to the requests topic and print a summary",
		Long: `Reads each FILE (plain, .gz or .zst) and publishes every line to Kafka:
parsed requests to the requests topic, lines that cannot be parsed to the
dead-letter topic with the reason. Without --follow it exits once every line
is acknowledged by Kafka and prints "shipped N, rejected M". With --follow it
keeps reading the files as they grow and rotate, until interrupted.

--log-format gives your nginx log_format (--format nginx) or Apache LogFormat
(--format apache) string; --json-fields maps the keys of a JSON log.
--check parses the first --check-lines lines of each file, prints which field
failed on which line and the first event, and sends nothing. Before shipping,
the first lines of each file are checked the same way: when none of them
parse, nothing is sent.`,
		Example: `  bulwark ship --format nginx --log-format '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time' --check access.log
  bulwark ship --format apache --log-format '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D' --session-cookie sid access.log.1.gz`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var c shipper.Config
			if err := config.Fill(&c, nil); err != nil {
				return err
			}
			c.Files, c.Format, c.Follow, c.CheckpointFile, c.StartAt = files, pf.format, follow, checkpoint, "beginning"
			for _, o := range []struct {
				flag string
				dst  *string
				val  string
			}{
				{"log-format", &c.LogFormat, pf.logFormat}, {"json-fields", &c.JSONFields, pf.jsonFields},
				{"session-field", &c.SessionField, pf.sessionField}, {"session-cookie", &c.SessionCookie, pf.sessionCookie},
				{"trusted-proxies", &c.TrustedProxies, pf.trustedProxies},
			} {
				if cmd.Flags().Changed(o.flag) {
					*o.dst = o.val
				}
			}
			pf.logFormat, pf.jsonFields, pf.sessionField, pf.sessionCookie, pf.trustedProxies =
				c.LogFormat, c.JSONFields, c.SessionField, c.SessionCookie, c.TrustedProxies
			format, opts, err := pf.options(c.MaxLineBytes)
			if err != nil {
				return usageError{err}
			}
			if err := c.Validate(); err != nil {
				return usageError{err}
			}
			out := cmd.OutOrStdout()
			if check {
				bad := 0
				for _, path := range expandFiles(files) {
					res, err := checkFile(path, format, opts, checkLines, 5)
					if errors.Is(err, fs.ErrNotExist) {
						return usageError{err}
					}
					if err != nil {
						return err
					}
					writeCheck(out, path, format, res)
					if !res.Matches() {
						bad++
					}
				}
				if bad > 0 {
					return fmt.Errorf("%d of the files do not fully match the format", bad)
				}
				return nil
			}
			for _, path := range expandFiles(files) {
				res, err := checkFile(path, format, opts, shipPrecheckLines, 1)
				if errors.Is(err, fs.ErrNotExist) {
					if follow {
						continue // --follow waits for it to appear
					}
					return usageError{err}
				}
				if err != nil {
					return err
				}
				if res.Lines > 0 && res.Parsed == 0 {
					why := "no line names a client: no address and no session id"
					if len(res.Errors) > 0 {
						why = res.Errors[0].String()
					}
					return usageError{fmt.Errorf("%s: none of the first %d lines parse as %s, nothing was sent (%s); see bulwark ship --check",
						path, res.Lines, format, why)}
				}
			}
			s, err := shipper.New(c, g.Kafka, g.Log, nil)
			if err != nil {
				return err
			}
			runErr := s.Run(cmd.Context())
			sum := s.Summary()
			fmt.Fprintf(out, "shipped %d, rejected %d\n", sum.Shipped, sum.Rejected)
			if runErr != nil {
				return runErr
			}
			if sum.Shipped+sum.Rejected+sum.Skipped < sum.Read {
				return fmt.Errorf("%d of %d lines were not acknowledged by Kafka", sum.Read-sum.Shipped-sum.Rejected-sum.Skipped, sum.Read)
			}
			return nil
		},
	}
	pf.register(cmd.Flags())
	cmd.Flags().BoolVar(&follow, "follow", false, "keep reading the files as they grow and rotate")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "checkpoint file, to resume an interrupted shipment where it stopped")
	cmd.Flags().BoolVar(&check, "check", false, "only parse the first lines of each file and report; send nothing")
	cmd.Flags().IntVar(&checkLines, "check-lines", 1000, "lines of each file --check parses (0: all)")
	return cmd
}
