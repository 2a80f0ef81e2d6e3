// Package selfimage makes the build context of the modelhub image: FROM
// scratch with the static modelhub binary, CA certificates and a non-root
// user, built without pulling any base image (everything comes from the
// context). `make image` and the tests build it from this context.
package selfimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// UID is the image's user and group: the nonroot ID of distroless images.
const UID = 65532

// Home is the image's models folder (MODELHUB_HOME), owned by UID.
const Home = "/models"

// Dockerfile returns the image's Dockerfile; version goes into a label.
func Dockerfile(version string) string {
	return `FROM scratch
COPY rootfs/ /
COPY --chown=` + uid() + `:` + uid() + ` models/ ` + Home + `/
ENV MODELHUB_HOME=` + Home + ` MODELHUB_CACHE=` + Home + `/.cache SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
LABEL org.opencontainers.image.title="modelhub" org.opencontainers.image.version=` + strconv.Quote(version) + ` org.opencontainers.image.source="https://github.com/modelhub-ai/modelhub"
USER ` + uid() + `:` + uid() + `
WORKDIR ` + Home + `
ENTRYPOINT ["/modelhub"]
CMD ["--help"]
`
}

func uid() string { return strconv.Itoa(UID) }

// Context returns the tar build context: the Dockerfile, the binary (a
// static linux build of cmd/modelhub), the CA bundle and the user's
// passwd/group entries.
func Context(binary, caCerts []byte, version string) ([]byte, error) {
	if len(binary) == 0 {
		return nil, errors.New("image context: no modelhub binary")
	}
	if len(caCerts) == 0 {
		return nil, errors.New("image context: no CA certificates (pass the host's bundle, e.g. /etc/ssl/certs/ca-certificates.crt)")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	var werr error
	file := func(name string, mode int64, data []byte) {
		if werr == nil {
			werr = tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg})
		}
		if werr == nil {
			_, werr = tw.Write(data)
		}
	}
	dir := func(name string, mode int64) {
		if werr == nil {
			werr = tw.WriteHeader(&tar.Header{Name: name, Mode: mode, ModTime: epoch, Typeflag: tar.TypeDir})
		}
	}
	file("Dockerfile", 0o644, []byte(Dockerfile(version)))
	dir("rootfs/", 0o755)
	file("rootfs/modelhub", 0o755, binary)
	dir("rootfs/etc/", 0o755)
	file("rootfs/etc/passwd", 0o644, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nmodelhub:x:%d:%d:modelhub:%s:/sbin/nologin\n", UID, UID, Home))
	file("rootfs/etc/group", 0o644, fmt.Appendf(nil, "root:x:0:\nmodelhub:x:%d:\n", UID))
	dir("rootfs/etc/ssl/", 0o755)
	dir("rootfs/etc/ssl/certs/", 0o755)
	file("rootfs/etc/ssl/certs/ca-certificates.crt", 0o644, caCerts)
	dir("rootfs/tmp/", 0o1777)
	dir("models/", 0o755)
	if werr != nil {
		return nil, werr
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
