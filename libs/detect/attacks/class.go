package attacks

import (
	"strings"

	"github.com/bulwarkhq/bulwark/libs/detect/features"
)

// Class is an endpoint class: the part of the site a request is for.
type Class uint8

// The endpoint classes. ClassNone is for static assets, which are not
// watched: they follow the pages.
const (
	ClassNone Class = iota
	ClassLogin
	ClassSignup
	ClassSearch
	ClassCart
	ClassAPI
	ClassPages
	numClasses
)

var classNames = [numClasses]string{"none", "login", "signup", "search", "cart", "api", "pages"}

// String is the class's name as attack names and metrics use it.
func (c Class) String() string {
	if c >= numClasses {
		return "unknown"
	}
	return classNames[c]
}

// ParseClass returns the class named s.
func ParseClass(s string) (Class, bool) {
	for c := ClassLogin; c < numClasses; c++ {
		if classNames[c] == s {
			return c, true
		}
	}
	return ClassNone, false
}

// signupPrefixes are account-creation paths; the rule file has no list for
// them (nothing else in Bulwark treats them apart), so they are fixed here.
var signupPrefixes = []string{"/signup", "/sign-up", "/register", "/join", "/account/create", "/customer/account/create", "/api/signup", "/api/register"}

// Classify returns the endpoint class of a request from its path and the
// classifier's flags (login and checkout paths come from the rule file).
func Classify(path string, f features.ReqFlags) Class {
	switch {
	case f&features.ReqAsset != 0:
		return ClassNone
	case f&(features.ReqLogin|features.ReqLoginFailed) != 0:
		return ClassLogin
	case f&features.ReqCheckout != 0:
		return ClassCart
	}
	for _, p := range signupPrefixes {
		if hasPrefixFold(path, p) {
			return ClassSignup
		}
	}
	switch {
	case hasPrefixFold(path, "/search"):
		return ClassSearch
	case hasPrefixFold(path, "/api/"):
		return ClassAPI
	}
	return ClassPages
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// Failed reports whether a response counts as a failure of its class: a
// 401 or 403, or an app-level login failure the classifier found.
func Failed(status uint32, f features.ReqFlags) bool {
	return status == 401 || status == 403 || f&features.ReqLoginFailed != 0
}
