package importpicture

import (
	"reflect"
	"testing"
)

// a.go uses b (b.go); b.go uses c (c.go); c.go uses A and its method
// (a.go); d.go uses c. No pair refers to each other directly, but a, b and
// c form a loop; d is outside it.
func TestThePictureOfAPackageWithALoop(t *testing.T) {
	p, err := Load("testdata/loop")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a.go": {"b.go"}, "b.go": {"c.go"}, "c.go": {"a.go"}, "d.go": {"c.go"}}
	if !reflect.DeepEqual(p.Uses, want) {
		t.Errorf("uses %v, want %v", p.Uses, want)
	}
	if n := len(p.Pairs()); n != 0 {
		t.Errorf("%d back-arrows, want none: %v", n, p.Pairs())
	}
	if loops := p.Loops(); !reflect.DeepEqual(loops, [][]string{{"a.go", "b.go", "c.go"}}) {
		t.Errorf("loops %v, want a, b and c", loops)
	}
	order, back, err := p.Order()
	if err != nil || len(back) != 1 || back[0][0] == "d.go" || back[0][1] == "d.go" {
		t.Errorf("order %v, back-arrows %v (%v), want one back-arrow, in the loop", order, back, err)
	}
	p.Uses["b.go"] = append(p.Uses["b.go"], "a.go")
	if pairs := p.Pairs(); !reflect.DeepEqual(pairs, [][2]string{{"a.go", "b.go"}}) {
		t.Errorf("back-arrows %v, want a.go <-> b.go", pairs)
	}
}
