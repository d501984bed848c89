package cfsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudflare "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/rules"
	"golang.org/x/time/rate"

	"github.com/bulwarkhq/bulwark/libs/platform/backoff"
)

// ErrOperationFailed is returned when Cloudflare reports a bulk operation as
// failed; the list is then as before the operation.
var ErrOperationFailed = errors.New("bulk operation failed")

// rateWindow is the window of Cloudflare's per-token request limit.
const rateWindow = 5 * time.Minute

// api is the Cloudflare lists API as the syncer uses it: the SDK's list
// service behind a token bucket, a shared Retry-After gate and metrics.
type api struct {
	svc     *rules.ListService
	account string
	cfg     Config
	limiter *rate.Limiter
	m       *metrics

	mu        sync.Mutex
	notBefore time.Time // no request before this (from Retry-After)
}

func newAPI(cfg Config, m *metrics) *api {
	a := &api{
		account: cfg.AccountID,
		cfg:     cfg,
		// Spread the window's budget evenly, with a small burst so that a
		// sync's few calls are not delayed.
		limiter: rate.NewLimiter(rate.Limit(float64(cfg.RateLimit)/rateWindow.Seconds()), min(cfg.RateLimit, 20)),
		m:       m,
	}
	a.svc = rules.NewListService(
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIToken(cfg.APIToken),
		option.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}),
		// Retries are ours: they honour Retry-After across requests and
		// never replay a write whose outcome is unknown.
		option.WithMaxRetries(0),
		option.WithMiddleware(a.middleware),
	)
	return a
}

// middleware waits for the token bucket and any Retry-After, and counts
// every request by outcome.
func (a *api) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	ctx := req.Context()
	a.mu.Lock()
	wait := time.Until(a.notBefore)
	a.mu.Unlock()
	if wait > 0 {
		if err := backoff.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
	if err := a.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	res, err := next(req)
	code := 0
	if res != nil {
		code = res.StatusCode
		if d, ok := retryAfter(res); ok {
			a.mu.Lock()
			if t := time.Now().Add(d); t.After(a.notBefore) {
				a.notBefore = t
			}
			a.mu.Unlock()
		}
	}
	c := strconv.Itoa(code)
	a.m.calls.WithLabelValues(req.Method, endpoint(req.URL.Path), c).Inc()
	if code == 0 || code >= 400 {
		if ctx.Err() == nil {
			a.m.errors.WithLabelValues(c).Inc()
		}
	}
	return res, err
}

func endpoint(path string) string {
	switch {
	case strings.Contains(path, "/bulk_operations/"):
		return "bulk_operations"
	case strings.HasSuffix(path, "/items"):
		return "items"
	case strings.HasSuffix(path, "/rules/lists"):
		return "lists"
	}
	return "list"
}

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(res *http.Response) (time.Duration, bool) {
	v := res.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// status returns the HTTP status of an API error (0 if err is not one).
func status(err error) int {
	var ae *cloudflare.Error
	if errors.As(err, &ae) {
		if ae.Response != nil {
			return ae.Response.StatusCode
		}
		return ae.StatusCode
	}
	return 0
}

// transient reports whether err is worth retrying: 429, 5xx, or no response.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	s := status(err)
	return s == 0 || s == http.StatusTooManyRequests || s >= 500
}

// policy is the project's one retry curve, from RetryBase to RetryMax.
func (a *api) policy() backoff.Policy {
	return backoff.Policy{Initial: a.cfg.RetryBase, Max: a.cfg.RetryMax}
}

// backoff is the wait before attempt n+1, never below a Retry-After the
// server gave.
func (a *api) backoff(n int, err error) time.Duration {
	return max(a.policy().Delay(n), retryAfterOf(err))
}

// retryAfterOf is the Retry-After a failed call carried (0: none).
func retryAfterOf(err error) time.Duration {
	var ae *cloudflare.Error
	if errors.As(err, &ae) && ae.Response != nil {
		if ra, ok := retryAfter(ae.Response); ok {
			return ra
		}
	}
	return 0
}

// retry runs fn until it succeeds, fails for good, or attempts run out.
// Only for calls that are safe to repeat: reads, polls, and writes that
// were rejected before being accepted (429).
func (a *api) retry(ctx context.Context, attempts int, fn func() error, retryable func(error) bool) error {
	for n := 0; ; n++ {
		err := fn()
		if err == nil || n+1 >= attempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		a.m.backoff.Inc()
		if err := backoff.Sleep(ctx, a.backoff(n, err)); err != nil {
			return err
		}
	}
}

// listInfo is a list as the account lists it.
type listInfo struct {
	ID       string
	Name     string
	NumItems int
}

// lists returns every list of the account.
func (a *api) lists(ctx context.Context) ([]listInfo, error) {
	var out []listInfo
	err := a.retry(ctx, 4, func() error {
		out = out[:0]
		page, err := a.svc.List(ctx, rules.ListListParams{AccountID: cloudflare.F(a.account)})
		if err != nil {
			return err
		}
		for _, l := range page.Result {
			out = append(out, listInfo{ID: l.ID, Name: l.Name, NumItems: int(l.NumItems)})
		}
		return nil
	}, transient)
	if err != nil {
		return nil, fmt.Errorf("list the account's lists: %w", err)
	}
	return out, nil
}

// createList makes an empty IP list.
func (a *api) createList(ctx context.Context, name string) (listInfo, error) {
	res, err := a.svc.New(ctx, rules.ListNewParams{
		AccountID:   cloudflare.F(a.account),
		Kind:        cloudflare.F(rules.ListNewParamsKindIP),
		Name:        cloudflare.F(name),
		Description: cloudflare.F("Managed by Bulwark: clients with an active verdict. Edits by hand are undone."),
	})
	if err != nil {
		return listInfo{}, fmt.Errorf("create list %s: %w", name, err)
	}
	return listInfo{ID: res.ID, Name: res.Name}, nil
}

// remoteItem is a list item as read back.
type remoteItem struct {
	ID, IP, Comment string
}

// items reads a whole list with cursor paging.
func (a *api) items(ctx context.Context, listID string) ([]remoteItem, error) {
	var out []remoteItem
	err := a.retry(ctx, 4, func() error {
		out = out[:0]
		pager := a.svc.Items.ListAutoPaging(ctx, listID, rules.ListItemListParams{
			AccountID: cloudflare.F(a.account),
			PerPage:   cloudflare.F(int64(500)),
		})
		for pager.Next() {
			it := pager.Current()
			out = append(out, remoteItem{ID: it.ID, IP: it.IP, Comment: it.Comment})
		}
		return pager.Err()
	}, transient)
	if err != nil {
		return nil, fmt.Errorf("read list %s: %w", listID, err)
	}
	return out, nil
}

// addItems appends (or, for IPs already listed, re-comments) items and
// waits for the bulk operation.
func (a *api) addItems(ctx context.Context, listID string, ws []*want) error {
	body := make([]rules.ListItemNewParamsBodyUnion, len(ws))
	for i, w := range ws {
		body[i] = rules.ListItemNewParamsBodyListsListItemIPComment{
			IP:      cloudflare.F(w.key),
			Comment: cloudflare.F(w.comment()),
		}
	}
	var op string
	err := a.retry(ctx, 6, func() error {
		res, err := a.svc.Items.New(ctx, listID, rules.ListItemNewParams{AccountID: cloudflare.F(a.account), Body: body})
		if err == nil {
			op = res.OperationID
		}
		return err
	}, rejected)
	if err != nil {
		return fmt.Errorf("add %d items to list %s: %w", len(ws), listID, err)
	}
	return a.wait(ctx, op)
}

// deleteItems removes items by ID and waits for the bulk operation.
func (a *api) deleteItems(ctx context.Context, listID string, ids []string) error {
	items := make([]rules.ListItemDeleteParamsItem, len(ids))
	for i, id := range ids {
		items[i] = rules.ListItemDeleteParamsItem{ID: cloudflare.F(id)}
	}
	var op string
	err := a.retry(ctx, 6, func() error {
		res, err := a.svc.Items.Delete(ctx, listID, rules.ListItemDeleteParams{AccountID: cloudflare.F(a.account), Items: cloudflare.F(items)})
		if err == nil {
			op = res.OperationID
		}
		return err
	}, rejected)
	if err != nil {
		return fmt.Errorf("remove %d items from list %s: %w", len(ids), listID, err)
	}
	return a.wait(ctx, op)
}

// rejected: a write answered 429 was not accepted (another operation was
// pending, or the rate limit hit), so sending it again is safe.
func rejected(err error) bool { return status(err) == http.StatusTooManyRequests }

// opTimeout bounds how long a bulk operation may stay pending or running.
const opTimeout = 10 * time.Minute

// wait polls a bulk operation until it completes or fails. Only one can be
// pending per account, so the syncer never sends a write before this returns.
func (a *api) wait(ctx context.Context, op string) error {
	deadline := time.Now().Add(opTimeout)
	interval := a.cfg.PollInterval
	for {
		if err := backoff.Sleep(ctx, interval); err != nil {
			return err
		}
		var res *rules.ListBulkOperationGetResponse
		err := a.retry(ctx, 8, func() error {
			var err error
			res, err = a.svc.BulkOperations.Get(ctx, op, rules.ListBulkOperationGetParams{AccountID: cloudflare.F(a.account)})
			return err
		}, transient)
		if err != nil {
			return fmt.Errorf("poll bulk operation %s: %w", op, err)
		}
		switch res.Status {
		case rules.ListBulkOperationGetResponseStatusCompleted:
			a.m.operations.WithLabelValues("completed").Inc()
			return nil
		case rules.ListBulkOperationGetResponseStatusFailed:
			a.m.operations.WithLabelValues("failed").Inc()
			return fmt.Errorf("%w: %s: %s", ErrOperationFailed, op, res.Error)
		}
		if time.Now().After(deadline) {
			a.m.operations.WithLabelValues("timeout").Inc()
			return fmt.Errorf("bulk operation %s still %s after %s", op, res.Status, opTimeout)
		}
		// Large operations take a while: poll less often as they go on.
		interval = min(interval*3/2, max(a.cfg.PollInterval, 5*time.Second))
	}
}
