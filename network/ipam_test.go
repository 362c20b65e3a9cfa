package network

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func openTestDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestIPAM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	db := openTestDB(t, path)
	n := &Network{Name: "n", ID: "nid", Subnet: "10.1.2.0/29", Gateway: "10.1.2.1"}
	alloc := func(db *bolt.DB, id string) (string, error) {
		var ip string
		err := db.Update(func(tx *bolt.Tx) error {
			if err := initBuckets(tx); err != nil {
				return err
			}
			b, _ := getBuckets(tx)
			a, err := b.allocateIP(n, id)
			if err == nil {
				ip = a.String()
			}
			return err
		})
		return ip, err
	}
	release := func(db *bolt.DB, ip, id string) {
		err := db.Update(func(tx *bolt.Tx) error {
			b, _ := getBuckets(tx)
			return b.releaseIP(n.ID, ip, id)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// /29: .0 network, .1 gateway, .7 broadcast: .2-.6 usable
	var got []string
	for i := 0; i < 3; i++ {
		ip, err := alloc(db, fmt.Sprint("c", i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	if strings.Join(got, ",") != "10.1.2.2,10.1.2.3,10.1.2.4" {
		t.Fatalf("first addresses: %v", got)
	}
	// persisted across a reopen (a restart, or a crash after commit)
	db.Close()
	db = openTestDB(t, path)
	defer db.Close()
	release(db, "10.1.2.3", "c1")
	release(db, "10.1.2.4", "someone-else") // not the holder: no effect
	for i := 3; i < 5; i++ {
		ip, err := alloc(db, fmt.Sprint("c", i))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ip)
	}
	// a released address is not reused at once: next-after-last first
	if got[3] != "10.1.2.5" || got[4] != "10.1.2.6" {
		t.Fatalf("after reopen: %v", got)
	}
	ip, err := alloc(db, "c5") // wraps around to the released .3
	if err != nil || ip != "10.1.2.3" {
		t.Fatalf("wrap: %v %v", ip, err)
	}
	if _, err := alloc(db, "c6"); err == nil || !strings.Contains(err.Error(), "no available IPv4 addresses in network n") {
		t.Fatalf("exhaustion: %v", err)
	}
	// every address is held by exactly one container
	seen := map[string]string{}
	_ = db.View(func(tx *bolt.Tx) error {
		b, _ := getBuckets(tx)
		return b.ips.Bucket([]byte(n.ID)).ForEach(func(k, v []byte) error {
			if seen[string(k)] != "" {
				t.Errorf("%s twice", k)
			}
			seen[string(k)] = string(v)
			return nil
		})
	})
	if len(seen) != 5 || seen["10.1.2.1"] != "" || seen["10.1.2.7"] != "" {
		t.Errorf("allocations: %v", seen)
	}
}

func TestPortKeysConflict(t *testing.T) {
	db := openTestDB(t, filepath.Join(t.TempDir(), "meta.db"))
	defer db.Close()
	err := db.Update(func(tx *bolt.Tx) error {
		if err := initBuckets(tx); err != nil {
			return err
		}
		b, _ := getBuckets(tx)
		_ = b.ports.Put(portKey("tcp", 8080, "127.0.0.1"), []byte("a"))
		_ = b.ports.Put(portKey("tcp", 80, "0.0.0.0"), []byte("b"))
		for _, c := range []struct {
			proto string
			port  int
			ip    string
			want  string
		}{
			{"tcp", 8080, "127.0.0.1", "a"},
			{"tcp", 8080, "0.0.0.0", "a"},
			{"tcp", 8080, "10.0.0.1", ""},
			{"udp", 8080, "127.0.0.1", ""},
			{"tcp", 808, "0.0.0.0", ""},
			{"tcp", 80, "10.0.0.1", "b"},
			{"tcp", 8, "0.0.0.0", ""},
		} {
			if h, _ := b.portHolder(c.proto, c.port, c.ip); h != c.want {
				t.Errorf("%s/%d/%s: holder %q, want %q", c.proto, c.port, c.ip, h, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
