package proc

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMissingBinary(t *testing.T) {
	_, err := Binary{Names: []string{"kizashi-no-such-binary"}, Package: "kizashi-pkg"}.Find()
	require.ErrorContains(t, err, "apt-get install -y kizashi-pkg")
}
