package selfimage

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestContext(t *testing.T) {
	data, err := Context([]byte("BIN"), []byte("CERTS"), "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	modes := map[string]int64{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
		modes[h.Name] = h.Mode
	}
	df := got["Dockerfile"]
	for _, want := range []string{"FROM scratch\n", "USER 65532:65532", `ENTRYPOINT ["/modelhub"]`, "COPY --chown=65532:65532 models/ /models/", `org.opencontainers.image.version="v1.2.3"`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
	if strings.Count(df, "FROM ") != 1 || strings.Contains(df, "RUN ") {
		t.Errorf("the image must build from scratch alone, with no RUN (nothing to run it with):\n%s", df)
	}
	if got["rootfs/modelhub"] != "BIN" || modes["rootfs/modelhub"] != 0o755 || got["rootfs/etc/ssl/certs/ca-certificates.crt"] != "CERTS" {
		t.Errorf("binary/certs: %q %o %q", got["rootfs/modelhub"], modes["rootfs/modelhub"], got["rootfs/etc/ssl/certs/ca-certificates.crt"])
	}
	if !strings.Contains(got["rootfs/etc/passwd"], "modelhub:x:65532:65532:") || modes["rootfs/tmp/"] != 0o1777 {
		t.Errorf("passwd %q, /tmp mode %o", got["rootfs/etc/passwd"], modes["rootfs/tmp/"])
	}
	if _, err := Context(nil, []byte("c"), "v"); err == nil {
		t.Error("no error without a binary")
	}
	if _, err := Context([]byte("b"), nil, "v"); err == nil {
		t.Error("no error without certificates")
	}
}
