package main

import (
	"strings"
	"testing"
)

func TestValidateMonitoring(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"summary", []string{"--summary"}, false},
		{"summary json interval", []string{"--summary", "-o", "json", "--interval", "250ms"}, false},
		{"summary duration", []string{"--summary", "--duration", "5s"}, false},
		{"zero interval", []string{"--interval", "0s"}, true},
		{"summary keys", []string{"--summary", "--summary-keys", "2"}, false},
		{"zero summary keys", []string{"--summary", "--summary-keys", "0"}, true},
		{"too many summary keys", []string{"--summary", "--summary-keys", "2000000"}, true},
		{"summary with pcap", []string{"--summary", "-w", "x"}, true},
		{"summary with count", []string{"--summary", "-c", "1"}, true},
		{"metrics bare port", []string{"--metrics-addr", "9090"}, false},
		{"metrics bad", []string{"--metrics-addr", "x:y"}, true},
	}
	for _, tt := range tests {
		cfg, _, err := parseFlags(tt.args)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
		}
		if tt.name == "metrics bare port" && cfg.metricsAddr != "127.0.0.1:9090" {
			t.Errorf("%s: address %q", tt.name, cfg.metricsAddr)
		}
	}
}

func TestFilterPodFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for no error, else the text the error must hold
	}{
		{[]string{"--filter-pod", "default/web"}, ""},
		{[]string{"--filter-pod", "default/web", "--filter-netns", "4026531840"}, "--filter-pod: cannot be used with --filter-netns"},
		{[]string{"--filter-pod", "default/web", "--trace"}, "--filter-pod: cannot be used with --trace"},
		{[]string{"--filter-pod", "default/web", "--cri-endpoint", "none"}, "--filter-pod: pods are found through the CRI runtime"},
		{[]string{"--filter-pod", ""}, "--filter-pod: the value is empty"},
		{[]string{"--filter-pod", "a/b", "--filter-pod", "c/d"}, "--filter-pod: given twice"},
	}
	for _, tt := range tests {
		_, _, err := parseFlags(tt.args)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v, want no error", tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: %v, want an error holding %q", tt.args, err, tt.want)
		}
	}
}
