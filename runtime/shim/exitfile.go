package shim

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
)

// writeExitFile records the init process's exit in <bundle>/exit.json:
// written to a temporary file and renamed into place, so that it is
// either absent or complete. It is not synced: it has to outlive the shim
// and ctrd (a crash of a process loses nothing written), not the machine
// (after a reboot no container of the exec-root runs, and the reconcile
// finds them stopped whatever the file says). The syncs cost the exit
// of every container 0.5-1 ms on this kind of machine, whose /run is on
// disk.
func writeExitFile(bundle string, st ExitStatus) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(bundle, "."+exitFileName+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(bundle, exitFileName))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// ReadExitFile reads the exit record the shim wrote when the container's
// init process exited. ok is false (and err nil) when there is none: the
// process has not exited, or the shim died before it could record it.
func ReadExitFile(bundle string) (st ExitStatus, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(bundle, exitFileName))
	if errors.Is(err, os.ErrNotExist) {
		return ExitStatus{}, false, nil
	}
	if err != nil {
		return ExitStatus{}, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return ExitStatus{}, false, err
	}
	return st, true, nil
}
