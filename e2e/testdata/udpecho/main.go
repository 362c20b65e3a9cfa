// Command udpecho answers every UDP datagram on the given port with
// "pong-" and the datagram. The e2e tests run it in containers (busybox's
// nc has no UDP).
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	c, err := net.ListenPacket("udp", ":"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buf := make([]byte, 2048)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			os.Exit(1)
		}
		c.WriteTo(append([]byte("pong-"), buf[:n]...), addr)
	}
}
