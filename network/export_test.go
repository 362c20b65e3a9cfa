package network

import bolt "go.etcd.io/bbolt"

// teardown removes every kernel object this manager made (its table, its
// bridges and the veths on them), for tests. ctrd itself never does this:
// containers keep their networking while the daemon restarts.
func (m *Manager) teardown() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var nets []*Network
	var eps []*Endpoint
	_ = m.db.View(func(tx *bolt.Tx) error {
		b, err := getBuckets(tx)
		if err != nil {
			return err
		}
		nets, _ = b.allNetworks()
		eps, _ = b.allEndpoints()
		return nil
	})
	for _, ep := range eps {
		if ep.HostVeth != "" {
			m.deleteLink(ep.HostVeth)
		}
	}
	idx := map[int]bool{}
	for _, n := range nets {
		if l, err := m.nl.LinkByName(n.Bridge); err == nil {
			idx[l.Attrs().Index] = true
		}
	}
	if links, err := m.linkList(); err == nil {
		for _, l := range links {
			if idx[l.Attrs().MasterIndex] {
				_ = m.nl.LinkDel(l)
			}
		}
	}
	for _, n := range nets {
		m.deleteBridge(n.Bridge)
	}
	_ = m.fw.destroy()
	m.fw.close()
	m.nl.Close()
}
