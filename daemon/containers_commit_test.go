package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
)

// A container being removed cannot be committed: its layer is going away.
func TestCommitRefusesContainerBeingRemoved(t *testing.T) {
	d := &Daemon{}
	c := &container{rec: containerRecord{Name: "leaving", State: containerState{Status: stateRemoving}}}
	_, err := d.commit(context.Background(), c, &api.CommitRequest{Ref: "img:v1"})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "leaving is being removed") {
		t.Fatalf("commit of a container being removed: %v, want a conflict naming it", err)
	}
}
