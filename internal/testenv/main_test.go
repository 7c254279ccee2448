package testenv_test

import (
	"testing"

	"github.com/kizashi-dev/kizashi/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
