package volumes

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseVolume(t *testing.T) {
	good := []struct {
		in   string
		want MountSpec
	}{
		{"/data", MountSpec{Type: TypeVolume, Destination: "/data"}},
		{"/data/", MountSpec{Type: TypeVolume, Destination: "/data"}},
		{"/data/registry:/var/lib/registry", MountSpec{Type: TypeBind, Source: "/data/registry", Destination: "/var/lib/registry", Propagation: "rprivate", CreateSource: true}},
		{"/etc/hosts:/etc/hosts.host:ro", MountSpec{Type: TypeBind, Source: "/etc/hosts", Destination: "/etc/hosts.host", ReadOnly: true, Propagation: "rprivate", CreateSource: true}},
		{"/a/../b/:/x/./y:rw", MountSpec{Type: TypeBind, Source: "/b", Destination: "/x/y", Propagation: "rprivate", CreateSource: true}},
		{"/a:/b:", MountSpec{Type: TypeBind, Source: "/a", Destination: "/b", Propagation: "rprivate", CreateSource: true}},
		{"/a:/b:ro,rshared", MountSpec{Type: TypeBind, Source: "/a", Destination: "/b", ReadOnly: true, Propagation: "rshared", CreateSource: true}},
		{"/a:/b:slave", MountSpec{Type: TypeBind, Source: "/a", Destination: "/b", Propagation: "slave", CreateSource: true}},
		{"/a:/b:z", MountSpec{Type: TypeBind, Source: "/a", Destination: "/b", Propagation: "rprivate", CreateSource: true}},
		{"/:/host:ro", MountSpec{Type: TypeBind, Source: "/", Destination: "/host", ReadOnly: true, Propagation: "rprivate", CreateSource: true}},
		{"data:/data", MountSpec{Type: TypeVolume, Source: "data", Destination: "/data"}},
		{"my_vol.1-x:/data:ro", MountSpec{Type: TypeVolume, Source: "my_vol.1-x", Destination: "/data", ReadOnly: true}},
		{"data:/data:nocopy", MountSpec{Type: TypeVolume, Source: "data", Destination: "/data", NoCopy: true}},
		{"data:/data:ro,nocopy,Z", MountSpec{Type: TypeVolume, Source: "data", Destination: "/data", ReadOnly: true, NoCopy: true}},
		{"ab:/data:copy", MountSpec{Type: TypeVolume, Source: "ab", Destination: "/data"}},
	}
	for _, c := range good {
		got, err := ParseVolume(c.in)
		if err != nil {
			t.Errorf("ParseVolume(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseVolume(%q) =\n %+v, want\n %+v", c.in, got, c.want)
		}
	}

	bad := []struct{ in, msg string }{
		{"", "empty"},
		{"./a:/b", `relative host path "./a": use an absolute path`},
		{"a/b:/b", `relative host path "a/b"`},
		{"../a:/b", "relative host path"},
		{"~/a:/b", "relative host path"},
		{":/x", "empty source"},
		{":/x:ro", "empty source"},
		{"/a:relative", `destination "relative" must be an absolute path`},
		{"relative", `destination "relative" must be an absolute path`},
		{"/a:", "empty destination"},
		{"/a:/", "destination can't be '/'"},
		{"/a:/b:rx", `unknown option "rx"`},
		{"/a:/b:ro,,rw", `unknown option ""`},
		{"/a:/b:ro,rw", "ro and rw given more than once"},
		{"/a:/b:shared,slave", "more than one propagation"},
		{"/a:/b:nocopy", "nocopy applies to volumes only"},
		{"data:/b:shared", "applies to bind mounts only"},
		{"/foo:ro", "options need a source and a destination"},
		{"data:rw", "options need a source and a destination"},
		{"/a:/b:ro:x", "too many colons"},
		{"x:/data", "too short"},
		{"a b:/data", "invalid characters"},
		{"_ab:/data", "invalid characters"},
	}
	for _, c := range bad {
		_, err := ParseVolume(c.in)
		if err == nil {
			t.Errorf("ParseVolume(%q): no error", c.in)
			continue
		}
		checkErr(t, "ParseVolume", c.in, err, c.msg)
		if !strings.HasPrefix(err.Error(), "invalid volume specification: '"+c.in+"'") {
			t.Errorf("ParseVolume(%q): %q lacks the spec prefix", c.in, err)
		}
	}
}

func checkErr(t *testing.T, fn, in string, err error, msg string) {
	t.Helper()
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("%s(%q) = %q, want it to contain %q", fn, in, err, msg)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("%s(%q): error spans lines: %q", fn, in, err)
	}
}

func TestParseMount(t *testing.T) {
	good := []struct {
		in   string
		want MountSpec
	}{
		{"type=bind,src=/srv,dst=/srv,readonly", MountSpec{Type: TypeBind, Source: "/srv", Destination: "/srv", ReadOnly: true, Propagation: "rprivate"}},
		{"type=bind,source=/srv/,target=/x,ro=true,bind-propagation=rslave", MountSpec{Type: TypeBind, Source: "/srv", Destination: "/x", ReadOnly: true, Propagation: "rslave"}},
		{"Type=bind,Source=/srv,Destination=/x,readonly=false", MountSpec{Type: TypeBind, Source: "/srv", Destination: "/x", Propagation: "rprivate"}},
		{`type=bind,"src=/a,b",dst=/x`, MountSpec{Type: TypeBind, Source: "/a,b", Destination: "/x", Propagation: "rprivate"}},
		{"type=volume,src=data,dst=/data", MountSpec{Type: TypeVolume, Source: "data", Destination: "/data"}},
		{"src=data,dst=/data,volume-nocopy", MountSpec{Type: TypeVolume, Source: "data", Destination: "/data", NoCopy: true}},
		{"type=volume,dst=/data,volume-nocopy=1,volume-driver=local,volume-label=a=b,volume-label=c", MountSpec{Type: TypeVolume, Destination: "/data", NoCopy: true, VolumeLabels: map[string]string{"a": "b", "c": ""}}},
		{"type=volume,target=/data,consistency=cached", MountSpec{Type: TypeVolume, Destination: "/data"}},
		{"type=tmpfs,dst=/run", MountSpec{Type: TypeTmpfs, Destination: "/run"}},
		{"type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770,ro", MountSpec{Type: TypeTmpfs, Destination: "/run", ReadOnly: true, TmpfsOptions: []string{"size=67108864", "mode=1770"}}},
	}
	for _, c := range good {
		got, err := ParseMount(c.in)
		if err != nil {
			t.Errorf("ParseMount(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseMount(%q) =\n %+v, want\n %+v", c.in, got, c.want)
		}
	}

	bad := []struct{ in, msg string }{
		{"type=bind,src=/srv", "field Target must not be empty"},
		{"type=bind,src=/srv,dst=", "field Target must not be empty"},
		{"type=bind,dst=/x", "field Source must not be empty"},
		{"type=bind,src=srv,dst=/x", `relative host path "srv"`},
		{"type=bind,src=/srv,dst=x", `destination "x" must be an absolute path`},
		{"type=bind,src=/srv,dst=/", "destination can't be '/'"},
		{"type=nfs,dst=/x", `mount type "nfs" is not supported`},
		{"type=volume,src=/srv,dst=/x", "invalid characters"},
		{"type=volume,src=x,dst=/x", "too short"},
		{"type=tmpfs,src=a,dst=/x", "field Source must not be specified"},
		{"type=bind,src=/a,dst=/x,volume-nocopy", `cannot mix "volume-nocopy" with mount type "bind"`},
		{"type=volume,dst=/x,bind-propagation=shared", `cannot mix "bind-propagation" with mount type "volume"`},
		{"type=bind,src=/a,dst=/x,tmpfs-size=1m", `cannot mix "tmpfs-size" with mount type "bind"`},
		{"type=tmpfs,dst=/x,volume-label=a=b", `cannot mix "volume-label"`},
		{"type=bind,src=/a,dst=/x,bind-propagation=sideways", `invalid bind-propagation "sideways"`},
		{"type=bind,src=/a,dst=/x,readonly=maybe", "invalid value for readonly"},
		{"type=bind,src=/a,dst=/x,foo=bar", `unexpected key "foo"`},
		{"type=bind,src=/a,dst=/x,junk", `invalid field "junk"`},
		{"type=tmpfs,dst=/x,tmpfs-size=lots", `invalid tmpfs-size "lots"`},
		{"type=tmpfs,dst=/x,tmpfs-mode=999", `invalid tmpfs-mode "999"`},
		{"type=volume,dst=/x,volume-driver=nfs", `volume driver "nfs" is not supported`},
		{`type=bind,"src=/a,dst=/x`, "extraneous or missing"},
	}
	for _, c := range bad {
		_, err := ParseMount(c.in)
		if err == nil {
			t.Errorf("ParseMount(%q): no error", c.in)
			continue
		}
		checkErr(t, "ParseMount", c.in, err, c.msg)
		if !strings.HasPrefix(err.Error(), `invalid argument `) || !strings.Contains(err.Error(), `for "--mount" flag: `) {
			t.Errorf("ParseMount(%q): %q lacks the flag prefix", c.in, err)
		}
	}
}

func TestParseTmpfs(t *testing.T) {
	good := []struct {
		in   string
		want MountSpec
	}{
		{"/run", MountSpec{Type: TypeTmpfs, Destination: "/run"}},
		{"/run/:", MountSpec{Type: TypeTmpfs, Destination: "/run"}},
		{"/run:rw,size=64m,mode=1777,exec", MountSpec{Type: TypeTmpfs, Destination: "/run", TmpfsOptions: []string{"size=64m", "mode=1777", "exec"}}},
		{"/run:ro,uid=1000,gid=1000,nr_inodes=1k,size=10%,noatime,huge=within_size", MountSpec{Type: TypeTmpfs, Destination: "/run", ReadOnly: true, TmpfsOptions: []string{"uid=1000", "gid=1000", "nr_inodes=1k", "size=10%", "noatime", "huge=within_size"}}},
	}
	for _, c := range good {
		got, err := ParseTmpfs(c.in)
		if err != nil {
			t.Errorf("ParseTmpfs(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseTmpfs(%q) =\n %+v, want\n %+v", c.in, got, c.want)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "empty destination"},
		{"run", "must be an absolute path"},
		{"/", "destination can't be '/'"},
		{"/run:size=big", `invalid value "big" for tmpfs option size`},
		{"/run:mode=9", `invalid value "9" for tmpfs option mode`},
		{"/run:uid=-1", "for tmpfs option uid"},
		{"/run:bogus", `unknown tmpfs option "bogus"`},
		{"/run:bogus=1", `unknown tmpfs option "bogus"`},
		{"/run:huge=sometimes", "for tmpfs option huge"},
	}
	for _, c := range bad {
		_, err := ParseTmpfs(c.in)
		if err == nil {
			t.Errorf("ParseTmpfs(%q): no error", c.in)
			continue
		}
		checkErr(t, "ParseTmpfs", c.in, err, c.msg)
	}
}

func TestCheckDuplicates(t *testing.T) {
	a, _ := ParseVolume("/a:/data")
	b, _ := ParseVolume("vol:/data/")
	c, _ := ParseTmpfs("/run")
	if err := CheckDuplicates([]MountSpec{a, c}); err != nil {
		t.Fatal(err)
	}
	err := CheckDuplicates([]MountSpec{a, c, b})
	if err == nil || err.Error() != "Duplicate mount point: /data" {
		t.Fatalf("got %v", err)
	}
	if err := CheckDuplicates(nil); err != nil {
		t.Fatal(err)
	}
}

func TestValidName(t *testing.T) {
	for _, n := range []string{"ab", "a1", "A_b.c-d", "0123456789abcdef"} {
		if err := ValidName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range []string{"", "a", "-ab", ".ab", "_ab", "a/b", "a b", "a:b", "é1"} {
		if err := ValidName(n); err == nil {
			t.Errorf("%q accepted", n)
		}
	}
}

func TestMergeImageVolumes(t *testing.T) {
	user, _ := ParseVolume("/host:/var/lib/registry")
	got := MergeImageVolumes([]MountSpec{user}, []string{"/var/lib/registry", "/z", "/data/", "/data", "cache"})
	want := []MountSpec{user, {Type: TypeVolume, Destination: "/cache"}, {Type: TypeVolume, Destination: "/data"}, {Type: TypeVolume, Destination: "/z"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if err := CheckDuplicates(got); err != nil {
		t.Fatal(err)
	}
}

func TestOptions(t *testing.T) {
	cases := []struct {
		spec string
		kind string
		want []string
	}{
		{"/a:/b", "v", []string{"rbind", "rw", "rprivate"}},
		{"/a:/b:ro,rshared", "v", []string{"rbind", "ro", "rshared"}},
		{"data:/b", "v", []string{"rbind", "rw", "rprivate"}},
		{"/run", "t", []string{"noexec", "nosuid", "nodev", "rw", "rprivate"}},
		{"/run:exec,size=1m,ro", "t", []string{"nosuid", "nodev", "exec", "size=1m", "ro", "rprivate"}},
		{"type=tmpfs,dst=/run,tmpfs-size=1k", "m", []string{"noexec", "nosuid", "nodev", "size=1024", "rw", "rprivate"}},
	}
	for _, c := range cases {
		var m MountSpec
		var err error
		switch c.kind {
		case "v":
			m, err = ParseVolume(c.spec)
		case "t":
			m, err = ParseTmpfs(c.spec)
		default:
			m, err = ParseMount(c.spec)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Options(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Options = %v, want %v", c.spec, got, c.want)
		}
	}
}

func TestEnsureBindSource(t *testing.T) {
	dir := t.TempDir()
	v, _ := ParseVolume(filepath.Join(dir, "new/sub") + ":/x")
	if err := EnsureBindSource(v); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "new/sub")); err != nil || !fi.IsDir() {
		t.Fatalf("bind source not created: %v", err)
	}
	m, _ := ParseMount("type=bind,src=" + filepath.Join(dir, "missing") + ",dst=/x")
	err := EnsureBindSource(m)
	if err == nil || !strings.Contains(err.Error(), "bind source path does not exist") {
		t.Fatalf("--mount with a missing source: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("--mount created its source")
	}
	vol, _ := ParseVolume("data:/x")
	if err := EnsureBindSource(vol); err != nil {
		t.Fatal(err)
	}
}
