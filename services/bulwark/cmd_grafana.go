package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bulwarkhq/bulwark/libs/analytics/chschema"
	"github.com/bulwarkhq/bulwark/libs/analytics/dashboards"
	"github.com/bulwarkhq/bulwark/libs/platform/config"
	"github.com/bulwarkhq/bulwark/services/bulwark/internal/grafana"
)

func init() { commands = append(commands, newGrafanaCmd) }

// grafanaEnv is the part of the environment `bulwark grafana` reads.
type grafanaEnv struct {
	Token      string `env:"GRAFANA_TOKEN" help:"Grafana service account token for bulwark grafana provision."`
	User       string `env:"GRAFANA_USER" help:"Grafana user, when no token is given (basic auth)."`
	Password   string `env:"GRAFANA_PASSWORD" help:"Password of BULWARK_GRAFANA_USER."`
	OrgID      int64  `env:"GRAFANA_ORG_ID" help:"Grafana organisation to provision into (0: the user's current one)."`
	Dashboards string `env:"GRAFANA_DASHBOARDS" envDefault:"dashboards" help:"Directory of the dashboard JSON files to import."`
}

func newGrafanaCmd(_ *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grafana",
		Short: "Grafana: provision the ClickHouse datasource and the dashboards",
	}
	var (
		url, chAddr, dir, folder string
	)
	provision := &cobra.Command{
		Use:   "provision --url URL",
		Short: "Create or update the ClickHouse datasource and import the dashboards (idempotent)",
		Long: `Creates or updates the "Bulwark ClickHouse" datasource (plugin
grafana-clickhouse-datasource, which Grafana must have installed) and imports
the dashboards of --dashboards into the folder "Bulwark", replacing earlier
versions. Authentication: BULWARK_GRAFANA_TOKEN (a service account token), or
BULWARK_GRAFANA_USER and BULWARK_GRAFANA_PASSWORD. The datasource reaches
ClickHouse at --clickhouse (default $BULWARK_CLICKHOUSE_ADDR, as Grafana sees
it), with BULWARK_CLICKHOUSE_DATABASE, _USER, _PASSWORD and _TLS.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var env grafanaEnv
			if err := config.Parse(&env, nil); err != nil {
				return err
			}
			var ch chschema.Config
			_ = config.Parse(&ch, nil) // only its fields are used; Validate wants an address we may get from --clickhouse
			if chAddr != "" {
				ch.Addr = chAddr
			}
			if url == "" {
				return usageError{fmt.Errorf("--url is required")}
			}
			if ch.Addr == "" {
				return usageError{fmt.Errorf("--clickhouse or BULWARK_CLICKHOUSE_ADDR is required (host:port as Grafana reaches ClickHouse)")}
			}
			if dir == "" {
				dir = env.Dashboards
			}
			if _, err := os.Stat(dir); err != nil {
				return usageError{fmt.Errorf("--dashboards %s: %w", dir, err)}
			}
			boards, err := dashboards.LoadDir(dir)
			if err != nil {
				return err
			}
			res, err := grafana.Provision(cmd.Context(),
				grafana.Target{URL: strings.TrimRight(url, "/"), Token: env.Token, User: env.User, Password: env.Password, OrgID: env.OrgID},
				grafana.Datasource{Addr: ch.Addr, Database: ch.Database, User: ch.User, Password: ch.Password, TLS: ch.TLS},
				grafana.Folder{Title: folder},
				boards)
			if err != nil {
				return err
			}
			verb := "updated"
			if res.DatasourceCreated {
				verb = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "datasource %s; %d dashboards imported into folder %q: %s\n",
				verb, len(res.Dashboards), folder, strings.Join(res.Dashboards, ", "))
			return nil
		},
	}
	provision.Flags().StringVar(&url, "url", "", "Grafana base URL, e.g. http://localhost:3000")
	provision.Flags().StringVar(&chAddr, "clickhouse", "", "ClickHouse native host:port as Grafana reaches it (default $BULWARK_CLICKHOUSE_ADDR)")
	provision.Flags().StringVar(&dir, "dashboards", "", "directory of dashboard JSON files (default $BULWARK_GRAFANA_DASHBOARDS or ./dashboards)")
	provision.Flags().StringVar(&folder, "folder", "Bulwark", "Grafana folder for the dashboards")
	cmd.AddCommand(provision)
	return cmd
}
