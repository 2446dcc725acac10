package cli

import (
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/droptrace/droptrace/filter"
)

// Rule says what one flag requires of the command line.
type Rule struct {
	Flag     string   // long name, without the dashes
	NonEmpty bool     // an empty value is refused: it would mean "everything"
	Once     bool     // a second occurrence is refused rather than replacing the first
	Needs    []string // flags of which one must be on for this one to have effect
	Excludes []string // flags that must be off when this one is on
}

// Parse parses args into fs and applies rules: a flag given twice against
// its rule fails as it is met, empty values and flags without their mode
// after parsing. Every error names the flag.
func Parse(fs *pflag.FlagSet, args []string, rules []Rule) error {
	byName := make(map[string]Rule, len(rules))
	for _, r := range rules {
		byName[r.Flag] = r
	}
	seen := map[string]bool{}
	err := fs.ParseAll(args, func(f *pflag.Flag, value string) error {
		if byName[f.Name].Once && seen[f.Name] {
			return Usagef("--%s: given twice; give it once (the last would silently win)", f.Name)
		}
		seen[f.Name] = true
		return fs.Set(f.Name, value)
	})
	if err != nil {
		return err
	}
	for _, r := range rules {
		if err := check(fs, r); err != nil {
			return err
		}
	}
	return nil
}

func check(fs *pflag.FlagSet, r Rule) error {
	f := fs.Lookup(r.Flag)
	if f == nil || !f.Changed {
		return nil
	}
	if r.NonEmpty && (f.Value.String() == "" || f.Value.String() == "[]") {
		return Usagef("--%s: the value is empty; leave the flag out if you mean none", r.Flag)
	}
	for _, ex := range r.Excludes {
		if On(fs, ex) {
			return Usagef("--%s: cannot be used with --%s", r.Flag, ex)
		}
	}
	if len(r.Needs) == 0 {
		return nil
	}
	for _, need := range r.Needs {
		if On(fs, need) {
			return nil
		}
	}
	return Usagef("--%s: has effect only with --%s", r.Flag, strings.Join(r.Needs, " or --"))
}

// On says whether the flag name was given a value that turns it on: any
// value for a string, true for a boolean.
func On(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil || !f.Changed {
		return false
	}
	v := f.Value.String()
	return v != "" && v != "false" && v != "[]"
}

// FilterRules are the rules of the --filter-* flags package filter
// defines: each needs a value, and is given once unless it takes a list.
func FilterRules() []Rule {
	fs := pflag.NewFlagSet("filters", pflag.ContinueOnError)
	new(filter.Flags).Register(fs)
	var rules []Rule
	fs.VisitAll(func(f *pflag.Flag) {
		rules = append(rules, Rule{Flag: f.Name, NonEmpty: true, Once: !slices.Contains(filter.Lists, f.Name)})
	})
	return rules
}
