" flowcheck's .flow files (cache-flush protocols; docs/editors.md)
autocmd BufRead,BufNewFile *.flow setfiletype flow
