package cli

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/types"
)

// Nearly every command talks to the daemon, and ctr's own start-up (the Go
// runtime, building and parsing the command line) takes several ms. The
// connection is therefore begun at once, on another goroutine, and so is
// the first-use work of encoding a container's creation: both then run on
// the machine's other CPU while the main goroutine parses the command.

// earlyDial is a connection to the daemon begun before the command line was
// parsed.
type earlyDial struct {
	host string
	done chan struct{}
	cl   *api.Client
	err  error
}

func dialEarly(host string) *earlyDial {
	e := &earlyDial{host: host, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.cl, e.err = api.Dial(context.Background(), host)
	}()
	return e
}

// take waits for the dial.
func (e *earlyDial) take(ctx context.Context) (*api.Client, error) {
	select {
	case <-e.done:
		return e.cl, e.err
	case <-ctx.Done():
		e.close()
		return nil, ctx.Err()
	}
}

// close closes the connection, which the command did not need, once the
// dial is done (if it never is, ctr's exit closes it).
func (e *earlyDial) close() {
	go func() {
		<-e.done
		if e.cl != nil {
			e.cl.Close()
		}
	}()
}

// commandWord is the command args name before any parsing: the first
// argument that is neither a flag nor the value of -H/--host. hostGiven
// tells whether a host flag comes before it.
func commandWord(args []string) (word string, hostGiven bool) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-H" || a == "--host":
			hostGiven = true
			i++
		case strings.HasPrefix(a, "--host=") || strings.HasPrefix(a, "-H"):
			hostGiven = true
		case strings.HasPrefix(a, "-"):
		default:
			return a, hostGiven
		}
	}
	return "", hostGiven
}

// warmCreate does the first-use work of encoding a creation request:
// encoding/json's encoders of CreateConfig and of the request (about a
// millisecond here, measured).
func warmCreate() {
	_, _ = json.Marshal(types.CreateConfig{})
	_, _ = json.Marshal(&api.CreateContainerRequest{})
}
