package metrics

import "testing"

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "9090", want: "127.0.0.1:9090"},
		{in: ":9090", want: ":9090"},
		{in: "0.0.0.0:9090", want: "0.0.0.0:9090"},
		{in: "[::1]:9090", want: "[::1]:9090"},
		{in: "localhost:9090", want: "localhost:9090"},
		{in: "70000", wantErr: true},
		{in: "localhost", wantErr: true},
		{in: "host:http", wantErr: true},
		{in: "a b:80", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseAddr(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseAddr(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
