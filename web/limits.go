package web

import (
	"errors"
	"fmt"
	"net/http"
)

// Request size limits. They are part of the product (README "Size limits", DESIGN):
// the dashboard's forms accept exactly what the API accepts, so a file that imports
// in the browser applies with curl and the other way round.
const (
	// maxAPIBody caps an API request body, and what a dashboard form submits
	// (the YAML of an import, the files of a Work).
	maxAPIBody = 4 << 20
	// maxHookBody caps a webhook body: the URL alone authenticates it.
	maxHookBody = 1 << 20
	// maxFormBody is what a dashboard form request may carry on the wire: more
	// than maxAPIBody, so that a paste over the limit still arrives whole and comes
	// back in the form with the message, instead of being lost.
	maxFormBody = 4 * maxAPIBody
)

// byteSize is n in the unit the limits are stated in.
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// tooLargeText states a limit: "The request is larger than 4 MiB, the limit for …".
func tooLargeText(limit int, what string) string {
	return fmt.Sprintf("The request is larger than %s, the limit for %s.", byteSize(limit), what)
}

// limitOf names what a body limit applies to, for the 413 message.
func limitOf(limit int64) string {
	switch limit {
	case maxHookBody:
		return tooLargeText(maxHookBody, "a webhook")
	case maxFormBody:
		return tooLargeText(maxAPIBody, "the API and the dashboard's forms")
	}
	return tooLargeText(int(limit), "the API and the dashboard's forms")
}

func isTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}
