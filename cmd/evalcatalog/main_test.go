package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	small := []string{"-days", "9", "-warmup", "24h", "-n", "1", "-controls", "1", "-kinds", "heavytail,sparse", "-failures", "none,spike10m"}
	js := filepath.Join(dir, "a.json")
	var out, errs bytes.Buffer
	require.Equal(t, 0, run(context.Background(), append(small, "-json", js, "-v"), &out, &errs), errs.String())
	require.Contains(t, out.String(), "| heavytail |")
	require.Contains(t, out.String(), "sparse/spike10m/0")
	require.FileExists(t, js)

	out.Reset()
	require.Equal(t, 0, run(context.Background(), append(small, "-compare", js), &out, &errs), errs.String())
	require.Contains(t, out.String(), "no cell changed")

	settings := filepath.Join(dir, "s.yml")
	require.NoError(t, os.WriteFile(settings, []byte("sensitivity: 0.9\n"), 0o644))
	out.Reset()
	require.Equal(t, 0, run(context.Background(), append(small, "-config", settings, "-compare", js), &out, &errs), errs.String())
	require.Contains(t, out.String(), "engine: defaults -> settings "+settings)
}

func TestRunRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"cells": []}`), 0o644))
	badSettings := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(badSettings, []byte("sensitivty: 0.9\n"), 0o644))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-nope"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-kinds", "smooth,nope"}, 1, `unknown kind "nope"`},
		{[]string{"-failures", "nope"}, 1, `unknown failure "nope"`},
		{[]string{"-compare", bad}, 1, "not a catalogue summary"},
		{[]string{"-compare", filepath.Join(dir, "missing.json")}, 1, "read earlier summary"},
		{[]string{"-config", badSettings}, 1, "sensitivty"},
		{[]string{"-days", "5"}, 1, "at least 8"},
	} {
		var out, errs bytes.Buffer
		require.Equal(t, tc.code, run(context.Background(), tc.args, &out, &errs), "%v", tc.args)
		require.Contains(t, errs.String(), tc.want, "%v", tc.args)
	}
}
