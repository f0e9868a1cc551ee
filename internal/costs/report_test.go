package costs

import "testing"

// API Gateway bills a message per started 32 KB, at least one.
func TestMessagesAreBilledIn32KBUnits(t *testing.T) {
	for _, tc := range []struct{ bytes, units int }{{0, 1}, {1, 1}, {32 * 1024, 1}, {32*1024 + 1, 2}, {128 * 1024, 4}} {
		if got := units(tc.bytes); got != tc.units {
			t.Errorf("units(%d) = %d, want %d", tc.bytes, got, tc.units)
		}
	}
}

func TestCountsAreWrittenWithThousandsSeparators(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0, "0"}, {999, "999"}, {10000, "10,000"}, {1234567, "1,234,567"}, {2.5, "2.5"}} {
		if got := num(tc.v); got != tc.want {
			t.Errorf("num(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
