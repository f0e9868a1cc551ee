package loop

type A struct{ n int }

func (a A) Twice() int { return b(a.n) * 2 }
