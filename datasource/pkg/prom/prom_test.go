package prom

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChunkSize(t *testing.T) {
	for _, tc := range []struct{ n, size, chunks int }{
		{1, 1, 1},
		{121, 121, 1},
		{3999, 3999, 1},
		{4000, 2000, 2},
		{10081, 2521, 4},
		{11581, 2896, 4},
		{40000, 10000, 4},
		{40001, 8001, 5},
		{100000, 10000, 10},
	} {
		size := chunkSize(tc.n)
		require.Equal(t, tc.size, size, "n=%d", tc.n)
		require.LessOrEqual(t, size, maxChunkPoints)
		require.Equal(t, tc.chunks, (tc.n+size-1)/size, "n=%d", tc.n)
	}
}
