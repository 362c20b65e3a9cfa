//go:build linux && cgo && seccomp

package seccompcache

/*
#cgo LDFLAGS: -Wl,--wrap=seccomp_export_bpf -Wl,--wrap=seccomp_rule_add_array -Wl,--wrap=seccomp_rule_add_exact_array

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <seccomp.h>

int __real_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
int __real_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
	unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int __real_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
	unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);

// What the wrappers do: pass through to libseccomp, or
enum {
	CTRD_PASS,
	CTRD_REPLAY,  // skip the rules and export the armed program instead;
	CTRD_CAPTURE, // keep the export and fail it, so nothing is loaded;
	CTRD_PROBE,   // count the call and fail it.
};

static int ctrd_mode;
static unsigned char *ctrd_prog;
static size_t ctrd_len;
static int ctrd_probed;

int __wrap_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
	unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	if (ctrd_mode == CTRD_REPLAY)
		return 0;
	return __real_seccomp_rule_add_array(ctx, action, syscall, arg_cnt, arg_array);
}

int __wrap_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
	unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array)
{
	if (ctrd_mode == CTRD_REPLAY)
		return 0;
	return __real_seccomp_rule_add_exact_array(ctx, action, syscall, arg_cnt, arg_array);
}

static int ctrd_write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int ctrd_capture(const scmp_filter_ctx ctx)
{
	int fd = memfd_create("ctrd-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = __real_seccomp_export_bpf(ctx, fd);
	struct stat st;
	if (rc == 0 && fstat(fd, &st) < 0)
		rc = -errno;
	if (rc == 0) {
		free(ctrd_prog);
		ctrd_len = (size_t)st.st_size;
		ctrd_prog = malloc(ctrd_len ? ctrd_len : 1);
		if (ctrd_prog == NULL)
			rc = -ENOMEM;
		else if (pread(fd, ctrd_prog, ctrd_len, 0) != (ssize_t)ctrd_len)
			rc = -EIO;
		if (rc != 0) {
			free(ctrd_prog);
			ctrd_prog = NULL;
			ctrd_len = 0;
		}
	}
	close(fd);
	// Fail the export either way: the caller must not go on to load.
	return rc != 0 ? rc : -ECANCELED;
}

int __wrap_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd)
{
	switch (ctrd_mode) {
	case CTRD_REPLAY:
		return ctrd_write_all(fd, ctrd_prog, ctrd_len);
	case CTRD_CAPTURE:
		return ctrd_capture(ctx);
	case CTRD_PROBE:
		ctrd_probed++;
		return -ECANCELED;
	}
	return __real_seccomp_export_bpf(ctx, fd);
}

static void ctrd_set_mode(int mode) { ctrd_mode = mode; }
static int ctrd_probe_count(void) { return ctrd_probed; }

static void ctrd_arm(unsigned char *prog, size_t len)
{
	free(ctrd_prog);
	ctrd_prog = prog;
	ctrd_len = len;
	ctrd_mode = CTRD_REPLAY;
}

// ctrd_take hands the captured program over to the caller.
static unsigned char *ctrd_take(size_t *len)
{
	unsigned char *p = ctrd_prog;
	*len = ctrd_len;
	ctrd_prog = NULL;
	ctrd_len = 0;
	return p;
}
*/
import "C"

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer/configs"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	libseccomp "github.com/seccomp/libseccomp-golang"
)

// Supported tells whether this binary can compile and replay filters.
const Supported = true

// mu serialises the wrappers' modes within a process.
var mu sync.Mutex

// wrapped tells whether libseccomp-golang's calls reach this package's
// wrappers: a binary linked without the --wrap flags (internal linking)
// would load a filter where Compile means to capture one.
var wrapped = sync.OnceValue(func() bool {
	mu.Lock()
	defer mu.Unlock()
	f, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return false
	}
	defer f.Release()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer null.Close()
	before := C.ctrd_probe_count()
	C.ctrd_set_mode(C.CTRD_PROBE)
	_ = f.ExportBPF(null)
	C.ctrd_set_mode(C.CTRD_PASS)
	return C.ctrd_probe_count() > before
})

// Compile returns the program libseccomp makes for cfg, built by
// libcontainer's own code (seccomp.InitSeccomp) and taken from it before
// anything is loaded: the program libcontainer would patch and load.
func Compile(cfg *configs.Seccomp) ([]byte, error) {
	if cfg == nil {
		return nil, errors.New("compile seccomp filter: no configuration")
	}
	if !wrapped() {
		return nil, errors.New("compile seccomp filter: libseccomp's export is not wrapped in this binary (built without external linking?)")
	}
	mu.Lock()
	defer mu.Unlock()
	type result struct {
		prog []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The filter is never loaded (the export fails), but were it
		// loaded it would bind this thread only, and a goroutine that
		// ends locked to its thread takes the thread with it.
		runtime.LockOSThread()
		C.ctrd_set_mode(C.CTRD_CAPTURE)
		_, err := lcseccomp.InitSeccomp(cfg)
		C.ctrd_set_mode(C.CTRD_PASS)
		var n C.size_t
		p := C.ctrd_take(&n)
		if p == nil {
			if err == nil {
				err = errors.New("libcontainer exported no program")
			}
			done <- result{err: fmt.Errorf("compile seccomp filter: %w", err)}
			return
		}
		prog := C.GoBytes(unsafe.Pointer(p), C.int(n))
		C.free(unsafe.Pointer(p))
		done <- result{prog: prog}
	}()
	r := <-done
	return r.prog, r.err
}

// Arm makes the next filter libcontainer builds in this process be prog:
// its rules are not added and its export yields prog. For a container's
// init, before libcontainer's init runs.
func Arm(prog []byte) {
	mu.Lock()
	defer mu.Unlock()
	C.ctrd_arm((*C.uchar)(C.CBytes(prog)), C.size_t(len(prog)))
}

// compilerID names the code a program depends on: the architecture, the
// versions of libcontainer, libseccomp-golang and libseccomp, and the
// seccomp API level libseccomp found in the kernel.
var compilerID = sync.OnceValue(func() string {
	id := runtime.GOARCH
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			switch m.Path {
			case "github.com/opencontainers/runc", "github.com/seccomp/libseccomp-golang":
				if m.Replace != nil {
					m = m.Replace
				}
				id += " " + m.Path + "@" + m.Version + m.Sum
			}
		}
	}
	major, minor, micro := libseccomp.GetLibraryVersion()
	api, _ := libseccomp.GetAPI()
	return fmt.Sprintf("%s libseccomp %d.%d.%d api %d", id, major, minor, micro, api)
})

// KeyOf is the key of cfg's compiled program.
func KeyOf(cfg *configs.Seccomp) (Key, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return Key{}, fmt.Errorf("seccomp filter key: %w", err)
	}
	h := sha256.New()
	h.Write([]byte(compilerID()))
	h.Write([]byte{0})
	h.Write(b)
	var k Key
	h.Sum(k[:0])
	return k, nil
}
