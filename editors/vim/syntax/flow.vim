" Vim syntax file
" Language:    flowcheck .flow files (cache-flush protocols of the Linux kernel)
" Reference:   grammar/flow.lark and docs/language.md in the flowcheck repository
"
" The language's keywords are contextual (`page file` names a page `file`): the groups below
" follow the usual contexts, and a word after `page`, `mapping`, `thread`, `fn`, `arch`...
" is highlighted as the name it declares, whatever it spells.

if exists("b:current_syntax")
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match
syn iskeyword @,48-57,_

" Comments, strings, numbers
syn keyword flowTodo contained TODO FIXME XXX NOTE
syn match   flowLineComment "//.*$" contains=flowTodo,@Spell
syn region  flowBlockComment start="/\*" end="\*/" contains=flowTodo,@Spell
syn region  flowString start=+"+ skip=+\\.+ end=+"+ end=+$+ oneline contains=flowEscape
syn match   flowEscape contained +\\.+
syn match   flowNumber "\<\d\+\>"

" Blocks: `arch NAME [extends NAME]`, `protocol NAME`
syn keyword flowBlock arch protocol nextgroup=flowBlockName skipwhite
syn match   flowBlockName contained "\h\w*" nextgroup=flowExtends skipwhite
syn keyword flowExtends contained extends nextgroup=flowParentName skipwhite
syn match   flowParentName contained "\h\w*"

" Functions, hooks, threads, devices and what they declare
syn keyword flowFn fn nextgroup=flowFunctionName skipwhite
" `on` is a match, not a keyword (a keyword would win over the hook's match): `expect ... on A`
" is the first, `on user_map(p: page)` the second, defined later, which wins where both match.
syn match   flowKeyword "\<on\>"
syn match   flowHook "\<on\ze\s\+\h\w*\s*(" nextgroup=flowFunctionName skipwhite
syn match   flowFunctionName contained "\h\w*"
syn keyword flowThread thread device nextgroup=flowThreadName skipwhite
syn match   flowThreadName contained "\h\w*"
syn match   flowParam "\<\h\w*\ze\s*:\s*\%(page\|mapping\)\>"

" Declarations: `page NAME ...`, `mapping NAME = user(P)`, the types of parameters
syn keyword flowType page mapping nextgroup=flowDeclName skipwhite
syn match   flowDeclName contained "\h\w*"

" Arch settings and protocol declarations
syn keyword flowDeclaration doc kernel cache speculative_fill dma_coherent start expect
syn keyword flowOption anon file highmem words write_back write_through line_words victim_fill
syn keyword flowOption colours colors yes no tlb pipt vipt vivt empty clean dirty any unfaulted linear
syn keyword flowVerdict safe stale_read lost_write use_after_unmap deadlock redundant_flush

" Statements
syn keyword flowAccess read write copy dma_read dma_write
syn keyword flowSync signal wait lock unlock
syn keyword flowMaintenance flush writeback invalidate purge_tlb
syn keyword flowMap map unmap set clear
syn keyword flowConditional if else
syn keyword flowRepeat either repeat
syn keyword flowReturn return
syn keyword flowLogical and or not
syn keyword flowKeyword at cost colour color user all mapped faulted

" Calls: any name before `(` that no keyword above claims (keywords win in Vim)
syn match   flowCall "\<\h\w*\ze\s*("
syn match   flowBuiltin "\<\%(mmap\|munmap\|memcpy\|copy_to_user\|copy_from_user\)\ze\s*("
syn match   flowDirection "\<DMA_\%(TO_DEVICE\|FROM_DEVICE\|BIDIRECTIONAL\|NONE\)\>"
syn match   flowFlag "\.\s*\zs\h\w*"
syn match   flowOperator "->\|<-\|="

" A block comment may start far above (the arch files open with one of 50 lines).
syn sync ccomment flowBlockComment minlines=100

hi def link flowTodo          Todo
hi def link flowLineComment   Comment
hi def link flowBlockComment  Comment
hi def link flowString        String
hi def link flowEscape        SpecialChar
hi def link flowNumber        Number
hi def link flowBlock         Structure
hi def link flowBlockName     Type
hi def link flowExtends       StorageClass
hi def link flowParentName    Type
hi def link flowFn            Keyword
hi def link flowHook          Keyword
hi def link flowFunctionName  Function
hi def link flowThread        Structure
hi def link flowThreadName    Function
hi def link flowParam         Identifier
hi def link flowType          Type
hi def link flowDeclName      Identifier
hi def link flowDeclaration   Keyword
hi def link flowOption        Constant
hi def link flowVerdict       Constant
hi def link flowAccess        Statement
hi def link flowSync          Statement
hi def link flowMaintenance   Statement
hi def link flowMap           Statement
hi def link flowConditional   Conditional
hi def link flowRepeat        Repeat
hi def link flowReturn        Statement
hi def link flowLogical       Operator
hi def link flowKeyword       Keyword
hi def link flowCall          Function
hi def link flowBuiltin       Function
hi def link flowDirection     Constant
hi def link flowFlag          Identifier
hi def link flowOperator      Operator

let b:current_syntax = "flow"
let &cpo = s:cpo_save
unlet s:cpo_save
