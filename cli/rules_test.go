package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestParse(t *testing.T) {
	rules := []Rule{
		{Flag: "port", NonEmpty: true, Once: true},
		{Flag: "reason", NonEmpty: true},
		{Flag: "stack", Needs: []string{"trace"}},
		{Flag: "funcs", Needs: []string{"trace", "list"}},
		{Flag: "list", Excludes: []string{"port", "trace"}},
	}
	tests := []struct {
		args []string
		want string // "" for no error, else the text the error must hold
	}{
		{[]string{"--port", "80"}, ""},
		{[]string{"--port", ""}, "--port: the value is empty"},
		{[]string{"--port", "80", "--port", "443"}, "--port: given twice"},
		{[]string{"--reason", "A", "--reason", "B"}, ""},
		{[]string{"--reason", ""}, "--reason: the value is empty"},
		{[]string{"--stack"}, "--stack: has effect only with --trace"},
		{[]string{"--stack", "--trace=false"}, "--stack: has effect only with --trace"},
		{[]string{"--stack", "--trace"}, ""},
		{[]string{"--funcs", "x"}, "--funcs: has effect only with --trace or --list"},
		{[]string{"--funcs", "x", "--list"}, ""},
		{[]string{"--nosuch"}, "--nosuch"},
		{[]string{"--list", "--port", "80"}, "--list: cannot be used with --port"},
		{[]string{"--list", "--trace"}, "--list: cannot be used with --trace"},
		{[]string{"--list", "--trace=false"}, ""},
	}
	for _, tt := range tests {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("port", "", "")
		fs.StringSlice("reason", nil, "")
		fs.Bool("stack", false, "")
		fs.Bool("trace", false, "")
		fs.Bool("list", false, "")
		fs.String("funcs", "", "")
		err := Parse(fs, tt.args, rules)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v, want no error", tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want an error holding %q", tt.args, err, tt.want)
		}
	}
}
