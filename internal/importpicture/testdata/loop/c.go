package loop

const c = 1

func useA(a A) int { return a.Twice() }
