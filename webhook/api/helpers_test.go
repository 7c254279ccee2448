package api_test

import (
	"net/url"
	"strconv"
)

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }

func parseQuery(s string) (map[string][]string, error) { return url.ParseQuery(s) }
