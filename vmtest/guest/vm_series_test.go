package guest

import "testing"

func TestKernelSeries(t *testing.T) {
	tests := []struct{ release, want string }{
		{"6.1.0-56-amd64", "6.1"},
		{"6.12.117+deb12-amd64", "6.12"},
		{"6.12.117+deb12-arm64", "arm64-6.12"},
		{"6.18.0", "6.18"},
		{"6.18-rc1", "6.18"},
		{"weird", "weird"},
	}
	for _, tt := range tests {
		if got := kernelSeries(tt.release); got != tt.want {
			t.Errorf("kernelSeries(%q) = %q, want %q", tt.release, got, tt.want)
		}
	}
}
