package api_test

import (
	"net/url"
	"strconv"

	"github.com/kizashi-dev/kizashi/webhook/publicid"
)

// pub is the public id of a store id.
func (f *fixture) pub(k publicid.Kind, id int64) int64 { return f.api.IDs.Public(k, id) }

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

func parseQuery(s string) (map[string][]string, error) { return url.ParseQuery(s) }
