package publicid

// Problem numbers problem records (package problem). It is set apart from the kinds above so
// that other kinds may be added there without renumbering it.
const Problem Kind = 16
