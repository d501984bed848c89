package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/ingest/geoip"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
)

func init() { commands = append(commands, newGeoIPCmd) }

func newGeoIPCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "geoip",
		Short: "Manage the GeoIP databases the shipper enriches events from",
	}
	var dir, provider string
	update := &cobra.Command{
		Use:   "update --dir DIR",
		Short: "Download the free country and ASN databases into DIR",
		Long: `Downloads a country and an ASN database in MaxMind's format into DIR as
country.mmdb and asn.mmdb, replacing each only once the new file reads as a
valid database. Point the shipper at them with
BULWARK_GEOIP_COUNTRY_DB=DIR/country.mmdb and BULWARK_GEOIP_ASN_DB=DIR/asn.mmdb;
it reloads them when they change, so running this from cron keeps them fresh.

Providers (--provider or BULWARK_GEOIP_PROVIDER):
  dbip     DB-IP Lite (no key; CC BY 4.0, attribution required)
  maxmind  GeoLite2 (BULWARK_GEOIP_MAXMIND_ACCOUNT_ID, _LICENSE_KEY)
  ipinfo   IPinfo Lite, one file with both (BULWARK_GEOIP_IPINFO_TOKEN)
BULWARK_GEOIP_COUNTRY_URL and _ASN_URL override the download URLs (a
mirror); {date} is replaced by the year and month, {token} by the token.`,
		Example: `  bulwark geoip update --dir /var/lib/bulwark/geoip
  BULWARK_GEOIP_MAXMIND_ACCOUNT_ID=123 BULWARK_GEOIP_MAXMIND_LICENSE_KEY=... bulwark geoip update --provider maxmind --dir /var/lib/bulwark/geoip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var c geoip.UpdateConfig
			if err := config.Fill(&c, nil); err != nil {
				return err
			}
			if cmd.Flags().Changed("provider") {
				c.Provider = provider
			}
			if dir == "" {
				return usageError{fmt.Errorf("--dir: where to put the databases")}
			}
			dl, err := c.Downloads(time.Now())
			if err != nil {
				return usageError{err}
			}
			if err := geoip.Update(cmd.Context(), nil, dir, dl); err != nil {
				return err
			}
			for _, f := range []string{"country.mmdb", "asn.mmdb"} {
				fmt.Fprintf(cmd.OutOrStdout(), "updated %s\n", filepath.Join(dir, f))
			}
			return nil
		},
	}
	update.Flags().StringVar(&dir, "dir", "", "directory to write country.mmdb and asn.mmdb into")
	update.Flags().StringVar(&provider, "provider", "dbip", "dbip, maxmind or ipinfo (default $BULWARK_GEOIP_PROVIDER or dbip)")
	cmd.AddCommand(update)
	return cmd
}
