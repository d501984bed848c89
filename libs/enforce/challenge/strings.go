package challenge

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/text/language"
)

// Strings are the words on the challenge and block pages, one set per
// language. The built-in sets are English, German and French; an operator
// adds or replaces languages with a JSON file (BULWARK_CHALLENGE_STRINGS_FILE)
// of {"LANG": {"title": ..., ...}}, fields as below.
type Strings struct {
	Title        string `json:"title"`
	Heading      string `json:"heading"`
	Intro        string `json:"intro"`
	Working      string `json:"working"`
	Press        string `json:"press"`
	Button       string `json:"button"`
	Done         string `json:"done"`
	NoScript     string `json:"noscript"`
	Failed       string `json:"failed"`
	Retry        string `json:"retry"`
	BlockedTitle string `json:"blocked_title"`
	BlockedText  string `json:"blocked_text"`
}

var builtinStrings = map[string]Strings{
	"en": {
		Title:        "Checking your browser",
		Heading:      "One moment, please",
		Intro:        "This site checks that visitors are people and not automated programs. Your browser is doing a short calculation; you will continue to the page by yourself.",
		Working:      "Checking…",
		Press:        "Please press the button to continue.",
		Button:       "Continue to the site",
		Done:         "Done. Taking you to the page…",
		NoScript:     "This check needs JavaScript. Please turn JavaScript on and reload this page.",
		Failed:       "We could not confirm that you are a person.",
		Retry:        "Try again",
		BlockedTitle: "Access denied",
		BlockedText:  "Requests from your network or browser look automated, so this site refuses them for now. If you are a person, please try again later or contact the site's operator.",
	},
	"de": {
		Title:        "Browser wird geprüft",
		Heading:      "Einen Moment bitte",
		Intro:        "Diese Website prüft, ob Besucher Menschen und keine automatisierten Programme sind. Ihr Browser führt eine kurze Berechnung durch; danach geht es von selbst weiter.",
		Working:      "Prüfung läuft…",
		Press:        "Bitte drücken Sie die Schaltfläche, um fortzufahren.",
		Button:       "Weiter zur Website",
		Done:         "Fertig. Sie werden weitergeleitet…",
		NoScript:     "Diese Prüfung braucht JavaScript. Bitte schalten Sie JavaScript ein und laden Sie die Seite neu.",
		Failed:       "Wir konnten nicht bestätigen, dass Sie ein Mensch sind.",
		Retry:        "Erneut versuchen",
		BlockedTitle: "Zugriff verweigert",
		BlockedText:  "Anfragen aus Ihrem Netz oder Browser wirken automatisiert, daher lehnt diese Website sie vorerst ab. Wenn Sie ein Mensch sind, versuchen Sie es bitte später erneut oder wenden Sie sich an den Betreiber.",
	},
	"fr": {
		Title:        "Vérification du navigateur",
		Heading:      "Un instant, s'il vous plaît",
		Intro:        "Ce site vérifie que ses visiteurs sont des personnes et non des programmes automatisés. Votre navigateur effectue un court calcul ; vous serez ensuite redirigé automatiquement.",
		Working:      "Vérification…",
		Press:        "Veuillez appuyer sur le bouton pour continuer.",
		Button:       "Continuer vers le site",
		Done:         "Terminé. Redirection en cours…",
		NoScript:     "Cette vérification nécessite JavaScript. Veuillez activer JavaScript et recharger la page.",
		Failed:       "Nous n'avons pas pu confirmer que vous êtes une personne.",
		Retry:        "Réessayer",
		BlockedTitle: "Accès refusé",
		BlockedText:  "Les requêtes de votre réseau ou navigateur semblent automatisées ; ce site les refuse pour le moment. Si vous êtes une personne, réessayez plus tard ou contactez l'exploitant du site.",
	},
}

// Languages picks the strings for a request's Accept-Language.
type Languages struct {
	sets    map[string]Strings
	tags    []string
	matcher language.Matcher
}

// LoadLanguages is the built-in sets, with those of file (if not empty)
// added or replacing them; a set in the file may leave fields out, which
// then stay English.
func LoadLanguages(file string) (*Languages, error) {
	l := &Languages{sets: map[string]Strings{}}
	for k, v := range builtinStrings {
		l.sets[k] = v
	}
	if file == "" {
		l.index()
		return l, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read strings file: %w", err)
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(b, &extra); err != nil {
		return nil, fmt.Errorf("strings file %s: %w", file, err)
	}
	for lang, raw := range extra {
		s := builtinStrings["en"]
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("strings file %s, language %q: %w", file, lang, err)
		}
		l.sets[strings.ToLower(lang)] = s
	}
	l.index()
	return l, nil
}

func (l *Languages) index() {
	// English first: the matcher's fallback.
	l.tags = []string{"en"}
	for k := range l.sets {
		if k != "en" {
			l.tags = append(l.tags, k)
		}
	}
	tags := make([]language.Tag, 0, len(l.tags))
	for _, k := range l.tags {
		tags = append(tags, language.Make(k))
	}
	l.matcher = language.NewMatcher(tags)
}

// pick returns the set that best matches the Accept-Language header
// (x/text's matcher: "de-CH" finds "de"), else English.
func (l *Languages) pick(acceptLanguage string) (string, Strings) {
	tags, _, _ := language.ParseAcceptLanguage(acceptLanguage)
	_, i, conf := l.matcher.Match(tags...)
	if conf == language.No {
		i = 0
	}
	k := l.tags[i]
	return k, l.sets[k]
}
