package session

import (
	"errors"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	tests := []struct {
		name   string
		report func(*strings.Builder, Source, Written)
		src    *fakeSource
		n      Written
		want   string
	}{
		{name: "drops", report: func(w *strings.Builder, s Source, n Written) { ReportDrops(w, s, n) },
			src: &fakeSource{seen: 12, lost: 3}, n: Written{Drops: 9, TCP: 4, All: 13},
			want: "droptrace: 9 drops reported, 12 matched in the kernel, 3 events lost\n"},
		{name: "path", report: func(w *strings.Builder, s Source, n Written) { ReportPath(w, s, n) },
			src: &fakeSource{seen: 40, lost: 0}, n: Written{Drops: 1, All: 37},
			want: "droptrace: 37 path events reported, 40 matched in the kernel, 0 events lost\n"},
		{name: "not run", report: func(w *strings.Builder, s Source, n Written) { ReportPath(w, s, n) },
			src: &fakeSource{seen: 40, lost: 2, notRun: 845}, n: Written{All: 38},
			want: "droptrace: 38 path events reported, 40 matched in the kernel, 2 events lost; 845 probe hits not run: the program was busy on that CPU (events among them are lost)\n"},
		{name: "stats fail", report: func(w *strings.Builder, s Source, n Written) { ReportDrops(w, s, n) },
			src: &fakeSource{statsErr: errors.New("reading stats: bad")}, n: Written{Drops: 2, All: 2},
			want: "droptrace: 2 drops reported; reading stats: bad\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		tt.report(&b, tt.src, tt.n)
		if got := b.String(); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
