package config

import (
	"reflect"
	"strings"
	"testing"
)

func apply(t *testing.T, st *State, allowed []string, lines ...string) error {
	t.Helper()
	cmds, err := ParseChanges(lines, allowed)
	if err != nil {
		return err
	}
	return Apply(st, cmds, nil)
}

func TestChanges(t *testing.T) {
	st := &State{}
	st.Config.Env = []string{"PATH=/bin", "A=1"}
	st.Config.Cmd = []string{"old"}
	err := apply(t, st, Commit,
		`ENV A=2 B=$A`,
		`EXPOSE 80 53/udp 9000-9001`,
		`WORKDIR /srv`,
		`WORKDIR app`,
		`USER nobody`,
		`LABEL k=v "x y"=z`,
		`VOLUME /data`,
		`VOLUME ["/logs"]`,
		`ENTRYPOINT ["/bin/sh"]`,
		`STOPSIGNAL SIGQUIT`,
		`ONBUILD RUN echo hi`,
		`HEALTHCHECK --interval=5s --retries=2 CMD true`,
	)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Config
	if want := []string{"PATH=/bin", "A=2", "B=1"}; !reflect.DeepEqual(c.Env, want) { // A keeps its place
		t.Errorf("Env = %v, want %v", c.Env, want)
	}
	if len(c.ExposedPorts) != 4 {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	for _, p := range []string{"80/tcp", "53/udp", "9000/tcp", "9001/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("missing exposed port %s", p)
		}
	}
	if c.WorkingDir != "/srv/app" || c.User != "nobody" || c.Labels["x y"] != "z" || c.StopSignal != "SIGQUIT" {
		t.Errorf("config = %+v", c)
	}
	if _, ok := c.Volumes["/logs"]; !ok {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	if c.Cmd != nil {
		t.Errorf("ENTRYPOINT should clear inherited Cmd, got %v", c.Cmd)
	}
	if !reflect.DeepEqual(c.OnBuild, []string{"RUN echo hi"}) {
		t.Errorf("OnBuild = %v", c.OnBuild)
	}
	if c.Healthcheck == nil || c.Healthcheck.Retries != 2 || c.Healthcheck.Interval.Seconds() != 5 {
		t.Errorf("Healthcheck = %+v", c.Healthcheck)
	}
}

func TestCmdShellForm(t *testing.T) {
	st := &State{}
	if err := apply(t, st, Import, `CMD echo $HOME hi`, `ENTRYPOINT ["/x"]`); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/sh", "-c", "echo $HOME hi"}; !reflect.DeepEqual(st.Config.Cmd, want) {
		t.Errorf("Cmd = %q, want %q (CMD set alongside ENTRYPOINT is kept)", st.Config.Cmd, want)
	}
}

func TestBadChanges(t *testing.T) {
	for _, line := range []string{
		"FORM x",
		"RUN echo",
		"",
		"EXPOSE 99999",
		"EXPOSE 80/foo",
		"ONBUILD ONBUILD RUN x",
		"ONBUILD FROM x",
	} {
		st := &State{}
		err := apply(t, st, Commit, line)
		if err == nil {
			t.Errorf("change %q accepted", line)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("change %q: multi-line error %q", line, err)
		}
	}
	// Import does not take ONBUILD.
	if err := apply(t, &State{}, Import, "ONBUILD RUN x"); err == nil || !strings.Contains(err.Error(), "ONBUILD") {
		t.Errorf("import ONBUILD: %v", err)
	}
}
