package session

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/droptrace/droptrace/filter"
	"github.com/droptrace/droptrace/nsfs"
)

// netnsWatch is how often a held namespace's file is checked.
const netnsWatch = time.Second

// HoldNetns holds the --filter-netns namespace open for the run, so that
// its inode, which the filter matches, cannot pass to a new namespace,
// and warns when the namespace is deleted. It also refuses a
// --filter-ifname that names no interface: in the held namespace, or
// else in any. The Held is nil without --filter-netns.
func HoldNetns(stderr io.Writer, arg string, spec filter.Spec) (*nsfs.Held, error) {
	var held *nsfs.Held
	if spec.Netns != 0 {
		var err error
		if held, err = holdNetns(arg, spec.Netns); err != nil {
			return nil, err
		}
		held.Watch(netnsWatch, func() {
			fmt.Fprintf(stderr, "droptrace: warning: --filter-netns %s: the namespace was deleted (%s no longer opens it); droptrace holds it, so no new namespace takes its inode\n", arg, held.Path())
		})
	}
	if err := checkIfname(held, spec.Ifname); err != nil {
		held.Close()
		return nil, err
	}
	return held, nil
}

func holdNetns(arg string, ino uint32) (*nsfs.Held, error) {
	path := filter.NetnsPath(arg)
	if path == "" {
		var err error
		if path, err = nsfs.NewIndex().Path(ino); err != nil {
			return nil, &filter.Error{Flag: "--filter-netns", Problem: fmt.Sprintf("no network namespace has inode %d (none of /run/netns/*, /proc/*/ns/net opens it)", ino)}
		}
	}
	held, err := nsfs.Hold(path, ino)
	if errors.Is(err, nsfs.ErrNetnsNotFound) {
		return nil, &filter.Error{Flag: "--filter-netns", Problem: err.Error()}
	}
	return held, err
}

func checkIfname(held *nsfs.Held, name string) error {
	if name == "" {
		return nil
	}
	var found bool
	var err error
	where := "any network namespace"
	if held != nil {
		found, err = held.HasLink(name)
		where = "network namespace " + held.Path()
	} else {
		found, err = nsfs.LinkAnywhere(name)
	}
	if found {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--filter-ifname: looking for %q: %w", name, err)
	}
	return &filter.Error{Flag: "--filter-ifname", Problem: fmt.Sprintf("no interface named %q in %s", name, where)}
}
