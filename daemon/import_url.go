package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ctrd/ctrd/api"
	"github.com/ctrd/ctrd/api/errdefs"
)

// importSource returns what an import reads and the function to call with
// its result. `ctr import URL` sends no upload, only the URL as the source:
// the daemon downloads it, as Docker's does, so the client carries no HTTP
// or TLS stack. Everything else ("-", a file) arrives through an upload.
func (s *imagesService) importSource(ctx context.Context, req *api.ImportRequest) (io.Reader, func(error), error) {
	if req.UploadId == "" && isImportURL(req.Source) {
		body, err := downloadImport(ctx, req.Source)
		if err != nil {
			return nil, nil, err
		}
		return body, func(error) { body.Close() }, nil
	}
	return s.d.uploads.reader(req.UploadId)
}

func isImportURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// downloadImport starts a GET of rawURL; the caller closes the body. The
// request ends with ctx, so an interrupted `ctr import` stops the download.
func downloadImport(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, errdefs.InvalidArgument(fmt.Errorf("invalid URL %q: %w", rawURL, err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", rawURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("download %s: %s", rawURL, resp.Status)
	}
	return resp.Body, nil
}
