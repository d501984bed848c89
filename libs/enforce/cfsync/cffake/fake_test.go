package cffake_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkhq/bulwark/libs/platform/testkit"

	cloudflare "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/rules"

	"github.com/bulwarkhq/bulwark/libs/enforce/cfsync/cffake"
)

const (
	token   = "tok"
	account = "acc"
)

func sdk(s *cffake.Server, tok string) *rules.ListService {
	return rules.NewListService(option.WithBaseURL(s.BaseURL()), option.WithAPIToken(tok), option.WithMaxRetries(0))
}

func code(err error) int {
	var ae *cloudflare.Error
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func TestListsItemsAndOperations(t *testing.T) {
	s := cffake.New(cffake.Config{Token: token, AccountID: account, OpDelay: 20 * time.Millisecond})
	defer s.Close()
	ctx := context.Background()
	svc := sdk(s, token)
	acct := cloudflare.F(account)

	l, err := svc.New(ctx, rules.ListNewParams{AccountID: acct, Kind: cloudflare.F(rules.ListNewParamsKindIP), Name: cloudflare.F("blocks")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.New(ctx, rules.ListNewParams{AccountID: acct, Kind: cloudflare.F(rules.ListNewParamsKindIP), Name: cloudflare.F("blocks")}); code(err) != 400 {
		t.Errorf("duplicate list name: %v, want 400", err)
	}
	if _, err := svc.New(ctx, rules.ListNewParams{AccountID: acct, Kind: cloudflare.F(rules.ListNewParamsKindIP), Name: cloudflare.F("Bad Name")}); code(err) != 400 {
		t.Errorf("bad list name: %v, want 400", err)
	}

	add := func(ips ...string) (string, error) {
		body := make([]rules.ListItemNewParamsBodyUnion, len(ips))
		for i, ip := range ips {
			body[i] = rules.ListItemNewParamsBodyListsListItemIPComment{IP: cloudflare.F(ip), Comment: cloudflare.F("c")}
		}
		res, err := svc.Items.New(ctx, l.ID, rules.ListItemNewParams{AccountID: acct, Body: body})
		if err != nil {
			return "", err
		}
		return res.OperationID, nil
	}
	// Formats Cloudflare rejects, synchronously.
	for _, bad := range []string{"2001:db8::/80", "2001:db8::1/128", "10.0.0.0/7", "::/3", "300.1.1.1", "garbage", "fe80::1%eth0"} {
		if _, err := add(bad); code(err) != 400 {
			t.Errorf("adding %q: %v, want 400", bad, err)
		}
	}
	var ips []string
	for i := range 60 {
		ips = append(ips, fmt.Sprintf("192.0.2.%d", i))
	}
	ips = append(ips, "2001:db8::1", "2001:db8:1::/48", "10.0.0.0/8")
	op, err := add(ips...)
	if err != nil {
		t.Fatal(err)
	}
	// One pending operation per account.
	if _, err := add("192.0.2.200"); code(err) != 429 {
		t.Errorf("second write while one is pending: %v, want 429", err)
	}
	st, err := svc.BulkOperations.Get(ctx, op, rules.ListBulkOperationGetParams{AccountID: acct})
	if err != nil || st.Status != rules.ListBulkOperationGetResponseStatusPending {
		t.Errorf("operation status = %v, %v; want pending", st, err)
	}
	if n := len(s.Items("blocks")); n != 0 {
		t.Errorf("items visible before the operation completed: %d", n)
	}
	testkit.Eventually(t, 5*time.Second, "the bulk operation to complete", func() bool {
		st, err = svc.BulkOperations.Get(ctx, op, rules.ListBulkOperationGetParams{AccountID: acct})
		return err != nil || st.Status == rules.ListBulkOperationGetResponseStatusCompleted
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != rules.ListBulkOperationGetResponseStatusCompleted || st.Completed == "" {
		t.Fatalf("operation = %+v, want completed", st)
	}

	// Cursor paging through the SDK's auto-pager.
	pager := svc.Items.ListAutoPaging(ctx, l.ID, rules.ListItemListParams{AccountID: acct, PerPage: cloudflare.F(int64(7))})
	seen := map[string]string{}
	for pager.Next() {
		seen[pager.Current().IP] = pager.Current().ID
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(ips) {
		t.Errorf("paged %d items, want %d", len(seen), len(ips))
	}
	if _, ok := seen["2001:db8::/64"]; !ok {
		t.Errorf("an IPv6 address was not stored as its /64: %v", seen)
	}
	if st := s.Stats(); st.ByRoute["GET items"] != 9 {
		t.Errorf("GET items = %d pages, want 9 for 63 items at 7 per page", st.ByRoute["GET items"])
	}
	if _, err := svc.Items.List(ctx, l.ID, rules.ListItemListParams{AccountID: acct, PerPage: cloudflare.F(int64(501))}); code(err) != 400 {
		t.Errorf("per_page 501: %v, want 400", err)
	}

	del, err := svc.Items.Delete(ctx, l.ID, rules.ListItemDeleteParams{AccountID: acct,
		Items: cloudflare.F([]rules.ListItemDeleteParamsItem{{ID: cloudflare.F(seen["192.0.2.0"])}})})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the delete operation to complete", func() bool {
		st, _ = svc.BulkOperations.Get(ctx, del.OperationID, rules.ListBulkOperationGetParams{AccountID: acct})
		return st != nil && st.Status == rules.ListBulkOperationGetResponseStatusCompleted
	})
	if n := len(s.Items("blocks")); n != len(ips)-1 {
		t.Errorf("after delete: %d items, want %d", n, len(ips)-1)
	}
}

func TestAuthRateLimitAndFaults(t *testing.T) {
	s := cffake.New(cffake.Config{Token: token, AccountID: account, RateLimit: 3, RateWindow: time.Minute})
	defer s.Close()
	get := func(tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.BaseURL()+"accounts/"+account+"/rules/lists", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	envelope := func(res *http.Response) (success bool, codes []int) {
		t.Helper()
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var e struct {
			Success bool `json:"success"`
			Errors  []struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
			Messages []any `json:"messages"`
			Result   any   `json:"result"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Messages == nil {
			t.Fatalf("not a v4 envelope: %s", b)
		}
		for _, er := range e.Errors {
			codes = append(codes, er.Code)
		}
		return e.Success, codes
	}
	if res := get(""); res.StatusCode != 400 {
		t.Errorf("no token: %d", res.StatusCode)
	}
	if res := get("wrong"); res.StatusCode != 403 {
		t.Errorf("wrong token: %d", res.StatusCode)
	}
	res := get(token)
	if ok, _ := envelope(res); !ok || res.StatusCode != 200 || !strings.Contains(res.Header.Get("Ratelimit"), "r=") {
		t.Errorf("good request: %d, rate-limit header %q", res.StatusCode, res.Header.Get("Ratelimit"))
	}
	get(token)
	get(token)
	res = get(token)
	if ok, codes := envelope(res); ok || res.StatusCode != 429 || res.Header.Get("Retry-After") == "" || len(codes) != 1 {
		t.Errorf("over the limit: %d, Retry-After %q, codes %v", res.StatusCode, res.Header.Get("Retry-After"), codes)
	}

	s2 := cffake.New(cffake.Config{Token: token, AccountID: account})
	defer s2.Close()
	s = s2
	s.Storm(2, 3*time.Second)
	if res := get(token); res.StatusCode != 429 || res.Header.Get("Retry-After") != "3" {
		t.Errorf("storm: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	get(token)
	if res := get(token); res.StatusCode != 200 {
		t.Errorf("after the storm: %d", res.StatusCode)
	}
	s.Outage(502)
	if res := get(token); res.StatusCode != 502 {
		t.Errorf("outage: %d", res.StatusCode)
	}
	s.Outage(0)
	if res := get(token); res.StatusCode != 200 {
		t.Errorf("after the outage: %d", res.StatusCode)
	}
}
