package session

import (
	"slices"
	"strings"
	"testing"
)

func TestNftMethods(t *testing.T) {
	tests := []struct {
		env     string
		want    []string
		wantErr string
	}{
		{"", []string{"fentry", "kprobe"}, ""},
		{"fentry", []string{"fentry"}, ""},
		{"kprobe", []string{"kprobe"}, ""},
		{"off", nil, "DROPTRACE_NFT_ATTACH=off"},
		{"kprobe-multi", nil, "not fentry, kprobe or off"},
	}
	for _, tt := range tests {
		got, err := nftMethods(tt.env)
		if !slices.Equal(got, tt.want) || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("nftMethods(%q) = %v, %v; want %v, error with %q", tt.env, got, err, tt.want, tt.wantErr)
		}
	}
}
