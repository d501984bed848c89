package decider

import (
	"bytes"
	"net/http"
	"time"

	"github.com/bulwarkhq/bulwark/libs/detect/crawlers"
)

// RDNSCachePath is where the decider's admin server serves its reverse-DNS
// answers (`bulwark bots export-cache` reads it).
const RDNSCachePath = "/v1/rdns-cache"

// RDNSCacheHandler serves the reverse-DNS answers d holds as an rDNS cache
// file, for `bulwark replay --rdns-cache`.
func RDNSCacheHandler(d *Decider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var buf bytes.Buffer
		if err := crawlers.WriteAnswers(&buf, d.CrawlerAnswers(), time.Now()); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error":"cannot encode the rDNS cache"}` + "\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(buf.Bytes())
	})
}
