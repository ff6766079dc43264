" Vim filetype plugin for flowcheck's .flow files (docs/editors.md)
if exists("b:did_ftplugin")
  finish
endif
let b:did_ftplugin = 1

" Comments are `// ...` and `/* ... */` (not nested), as in grammar/flow.lark.
setlocal commentstring=//\ %s
setlocal comments=s1:/*,mb:*,ex:*/,://
setlocal formatoptions-=t formatoptions+=croql
" Names are [A-Za-z_][A-Za-z0-9_]*: `*`, `w` and completion see kunmap_atomic as one word.
setlocal iskeyword=@,48-57,_

let b:undo_ftplugin = "setlocal commentstring< comments< formatoptions< iskeyword<"
