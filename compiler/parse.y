/*
 * parse.y — the cnnc grammar (pure parser, locations, LAC, custom errors).
 *
 * Actions only build AST nodes (cnnc.h "ast"); meaning is checked in sema.c.
 * Statements end at a newline or ';'.  Error recovery resynchronises at the
 * next statement separator or closing brace, so one run reports several
 * syntax errors; a '{' met while skipping a broken statement is parsed as a
 * body (rule 'bad'), so its closing '}' does not cause a second error.  The grammar in brief (docs/language.md has the full story):
 *
 *   file      := stmts
 *   stmt      := "network" IDENT "input" DIMS
 *              | "include" STRING
 *              | "block" IDENT ["(" params ")"] body
 *              | IDENT args                       -- a layer or a block call
 *              | group
 *              | "residual" [name] body ["shortcut" group]
 *              | "concat" [name] body             -- each statement is a branch
 *              | "scale" [name] body              -- the input times the body (a gate)
 *              | "merge" OP [name] body           -- the branches added, subtracted, multiplied
 *                                                    or averaged (OP add, sub, mul, mean)
 *              | "repeat" expr ["as" IDENT] ["from" expr] body
 *              | "if" expr body ["else" body]
 *   group     := body | "group" name body
 *              | "seq" [name] ["from" expr] ["prefix" STRING] body
 *   body      := "{" stmts "}"
 *   args      := { arg }
 *   arg       := atom | IDENT "=" atom | "(" [ expr_arg {"," expr_arg} ] ")"
 *   expr_arg  := expr | IDENT "=" expr
 */
%require "3.8"
%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner}
%parse-param {ParseCtx *ctx}

%code requires {
#include "cnnc.h"
}

%union {
    long long ival;
    double fval;
    const char *str;
    Expr *expr;
    Arg *arg;
    Stmt *stmt;
    Param *param;
}

%code {
#include "lex.yy.h"
#include <string.h>

void *lex_begin(const SrcFile *f);
int lex_open(void *s, Loc *brace, Loc *paren, bool *paren_open);
static void yyerror(YYLTYPE *l, void *scanner, ParseCtx *ctx, const char *msg);
void lex_end(void *s);

static Loc L(const ParseCtx *ctx, YYLTYPE l) {
    int len = l.last_line == l.first_line ? l.last_column - l.first_column : 1;
    return (Loc){ ctx->file, l.first_line, l.first_column, len > 0 ? len : 1 };
}

static Stmt *mkstmt(const ParseCtx *ctx, StmtKind k, YYLTYPE l) {
    Stmt *s = arena_alloc(sizeof *s);
    s->kind = k;
    s->loc = L(ctx, l);
    return s;
}

static Expr *mkexpr(const ParseCtx *ctx, ExprKind k, YYLTYPE l) {
    Expr *e = arena_alloc(sizeof *e);
    e->kind = k;
    e->loc = L(ctx, l);
    return e;
}

static Expr *mkbin(const ParseCtx *ctx, int op, Expr *a, Expr *b, YYLTYPE l) {
    Expr *e = mkexpr(ctx, EX_BIN, l);
    e->op = op;
    e->a = a;
    e->b = b;
    e->depth = 1 + (a->depth > b->depth ? a->depth : b->depth);
    return e;
}

static Arg *mkarg(const ParseCtx *ctx, const char *key, YYLTYPE kl, Expr *v, YYLTYPE l) {
    Arg *a = arena_alloc(sizeof *a);
    a->loc = L(ctx, l);
    a->key = key;
    a->key_loc = L(ctx, kl);
    a->val = v;
    return a;
}

/* Append list b to list a (both possibly NULL); T has 'next' and 'tail'
 * fields.  The head of a list remembers its last element, so building a
 * list of n items costs O(n), not O(n^2) (a 300 KB file of 60,000 layers
 * took 38 s). */
#define APPEND(T, a, b) ((T *)append_((void *)(a), (void *)(b), offsetof(T, next), offsetof(T, tail)))
#define LINK(p, off) (*(void **)((char *)(p) + (off)))
static void *append_(void *a, void *b, size_t off, size_t toff) {
    if (!a) return b;
    if (!b) return a;
    void *p = LINK(a, toff) ? LINK(a, toff) : a;
    while (LINK(p, off))
        p = LINK(p, off);
    LINK(p, off) = b;
    void *q = LINK(b, toff) ? LINK(b, toff) : b;
    while (LINK(q, off))
        q = LINK(q, off);
    LINK(a, toff) = q;
    return a;
}
}

%token NL "end of line"
%token KW_NETWORK "'network'" KW_INPUT "'input'" KW_BLOCK "'block'"
%token KW_INCLUDE "'include'" KW_SEQ "'seq'" KW_GROUP "'group'"
%token KW_RESIDUAL "'residual'" KW_SHORTCUT "'shortcut'" KW_CONCAT "'concat'" KW_SCALE "'scale'"
%token KW_MERGE "'merge'"
%token KW_REPEAT "'repeat'" KW_AS "'as'" KW_FROM "'from'" KW_PREFIX "'prefix'"
%token KW_IF "'if'" KW_ELSE "'else'"
%token LE "'<='" GE "'>='" EQ "'=='" NE "'!='" AND "'&&'" OR "'||'"
%token <ival> INT "integer" BOOL "'true' or 'false'"
%token <fval> FLOAT "number"
%token <str> IDENT "identifier" STRING "string"
%token <expr> DIMS "dimensions (like 3x32x32)"

%type <stmt> stmts stmt_list stmt group body opt_shortcut opt_else bad
%type <arg> args arg paren_args expr_args expr_arg
%type <expr> atom expr opt_from
%type <str> name opt_name opt_prefix opt_as
%type <param> params param_list param

%left OR
%left AND
%left EQ NE
%left '<' '>' LE GE
%left '+' '-'
%left '*' '/' '%'
%precedence UNARY

%%

file:
  stmts                         { ctx->result = $1; }
;

/* Statements separated by one or more NL/';', optional at both ends. */
stmts:
  seps stmt_list                { $$ = $2; }
| seps stmt_list stmt           { $$ = APPEND(Stmt, $2, $3); }
| seps stmt_list bad            { $$ = $2; }
;
stmt_list:
  %empty                        { $$ = NULL; }
| stmt_list stmt seps1          { $$ = APPEND(Stmt, $1, $2); }
| stmt_list bad seps1           { $$ = $1; yyerrok; }
;
/* a broken statement, with the body it may have opened */
bad:    error { $$ = NULL; } | error body { $$ = NULL; } ;
seps:   %empty | seps1 ;
seps1:  sep | seps1 sep ;
sep:    NL | ';' ;

body:
  '{' stmts '}'                 { $$ = $2; }
;

stmt:
  KW_NETWORK IDENT KW_INPUT DIMS {
        $$ = mkstmt(ctx, ST_NETWORK, @1);
        $$->ident = $2; $$->ident_loc = L(ctx, @2); $$->input = $4; }
| KW_INCLUDE STRING             {
        $$ = mkstmt(ctx, ST_INCLUDE, @1);
        $$->path = $2; $$->ident_loc = L(ctx, @2); }
| KW_BLOCK IDENT params body    {
        $$ = mkstmt(ctx, ST_BLOCKDEF, @1);
        $$->ident = $2; $$->ident_loc = L(ctx, @2); $$->params = $3; $$->body = $4; }
| IDENT args                    {
        $$ = mkstmt(ctx, ST_CALL, @1);
        $$->ident = $1; $$->ident_loc = L(ctx, @1); $$->args = $2; }
| group                         { $$ = $1; }
| KW_RESIDUAL opt_name body opt_shortcut {
        $$ = mkstmt(ctx, ST_RESIDUAL, @1);
        $$->name = $2; $$->name_loc = L(ctx, @2); $$->body = $3; $$->body2 = $4; }
| KW_CONCAT opt_name body       {
        $$ = mkstmt(ctx, ST_CONCAT, @1);
        $$->name = $2; $$->name_loc = L(ctx, @2); $$->body = $3; }
| KW_MERGE IDENT opt_name body  {
        $$ = mkstmt(ctx, ST_MERGE, @1);
        $$->ident = $2; $$->ident_loc = L(ctx, @2); $$->name = $3; $$->name_loc = L(ctx, @3); $$->body = $4; }
| KW_SCALE opt_name body        {
        $$ = mkstmt(ctx, ST_SCALE, @1);
        $$->name = $2; $$->name_loc = L(ctx, @2); $$->body = $3; }
| KW_REPEAT expr opt_as opt_from body {
        $$ = mkstmt(ctx, ST_REPEAT, @1);
        $$->count = $2; $$->var = $3; $$->var_loc = L(ctx, @3);
        $$->from = $4; $$->body = $5; }
| KW_IF expr body opt_else      {
        $$ = mkstmt(ctx, ST_IF, @1);
        $$->cond = $2; $$->body = $3; $$->body2 = $4; }
;

group:
  body                          {
        $$ = mkstmt(ctx, ST_GROUP, @1); $$->body = $1; }
| KW_GROUP name body            {
        $$ = mkstmt(ctx, ST_GROUP, @1);
        $$->name = $2; $$->name_loc = L(ctx, @2); $$->body = $3; }
| KW_SEQ opt_name opt_from opt_prefix body {
        $$ = mkstmt(ctx, ST_GROUP, @1); $$->is_seq = true;
        $$->name = $2; $$->name_loc = L(ctx, @2);
        $$->from = $3; $$->prefix = $4; $$->body = $5; }
;

opt_name:     %empty { $$ = NULL; } | name { $$ = $1; } ;
/* A name may also be a keyword that cannot follow a name (torchvision and
 * CIFAR ResNets call their projection "shortcut"). */
name:
  IDENT | STRING
| KW_SHORTCUT { $$ = "shortcut"; } | KW_INPUT { $$ = "input"; } | KW_NETWORK { $$ = "network"; }
| KW_BLOCK { $$ = "block"; } | KW_INCLUDE { $$ = "include"; } | KW_GROUP { $$ = "group"; }
| KW_RESIDUAL { $$ = "residual"; } | KW_CONCAT { $$ = "concat"; } | KW_REPEAT { $$ = "repeat"; }
| KW_SCALE { $$ = "scale"; } | KW_MERGE { $$ = "merge"; }
| KW_IF { $$ = "if"; } | KW_ELSE { $$ = "else"; } | KW_AS { $$ = "as"; } | KW_SEQ { $$ = "seq"; }
;
opt_as:       %empty { $$ = NULL; } | KW_AS IDENT { $$ = $2; } ;
opt_from:     %empty { $$ = NULL; } | KW_FROM expr { $$ = $2; } ;
opt_prefix:   %empty { $$ = NULL; } | KW_PREFIX STRING { $$ = $2; } ;
opt_shortcut: %empty { $$ = NULL; } | KW_SHORTCUT group { $$ = $2; } ;
opt_else:     %empty { $$ = NULL; } | KW_ELSE body {
        $$ = mkstmt(ctx, ST_GROUP, @2); $$->body = $2; } ;

params:
  %empty                        { $$ = NULL; }
| '(' ')'                       { $$ = NULL; }
| '(' param_list ')'            { $$ = $2; }
;
param_list:
  param                         { $$ = $1; }
| param_list ',' param          { $$ = APPEND(Param, $1, $3); }
;
param:
  IDENT                         {
        $$ = arena_alloc(sizeof *$$); $$->name = $1; $$->loc = L(ctx, @1); }
| IDENT '=' expr                {
        $$ = arena_alloc(sizeof *$$); $$->name = $1; $$->loc = L(ctx, @1); $$->def = $3; }
;

args:
  %empty                        { $$ = NULL; }
| args arg                      { $$ = APPEND(Arg, $1, $2); }
;
arg:
  atom                          { $$ = mkarg(ctx, NULL, @1, $1, @1); }
| IDENT '=' atom                { $$ = mkarg(ctx, $1, @1, $3, @$); }
| paren_args                    { $$ = $1; }
;
paren_args:
  '(' ')'                       { $$ = NULL; }
| '(' expr_args ')'             { $$ = $2; }
;
expr_args:
  expr_arg                      { $$ = $1; }
| expr_args ',' expr_arg        { $$ = APPEND(Arg, $1, $3); }
;
expr_arg:
  expr                          { $$ = mkarg(ctx, NULL, @1, $1, @1); }
| IDENT '=' expr                { $$ = mkarg(ctx, $1, @1, $3, @$); }
;

/* A bare argument: no operators (they would be ambiguous with the next
 * argument); put arithmetic in parentheses.  A '-' sign is allowed. */
atom:
  INT                           { $$ = mkexpr(ctx, EX_INT, @1); $$->ival = $1; }
| FLOAT                         { $$ = mkexpr(ctx, EX_FLOAT, @1); $$->fval = $1; }
| BOOL                          { $$ = mkexpr(ctx, EX_BOOL, @1); $$->ival = $1; }
| IDENT                         { $$ = mkexpr(ctx, EX_IDENT, @1); $$->str = $1; }
| STRING                        { $$ = mkexpr(ctx, EX_STR, @1); $$->str = $1; }
| DIMS                          { $$ = $1; }
| '-' INT                       { $$ = mkexpr(ctx, EX_INT, @$); $$->ival = -$2; }
| '-' FLOAT                     { $$ = mkexpr(ctx, EX_FLOAT, @$); $$->fval = -$2; }
;

expr:
  INT                           { $$ = mkexpr(ctx, EX_INT, @1); $$->ival = $1; }
| FLOAT                         { $$ = mkexpr(ctx, EX_FLOAT, @1); $$->fval = $1; }
| BOOL                          { $$ = mkexpr(ctx, EX_BOOL, @1); $$->ival = $1; }
| IDENT                         { $$ = mkexpr(ctx, EX_IDENT, @1); $$->str = $1; }
| STRING                        { $$ = mkexpr(ctx, EX_STR, @1); $$->str = $1; }
| DIMS                          { $$ = $1; }
| '(' expr ')'                  { $$ = $2; }
| '-' expr %prec UNARY          { $$ = mkexpr(ctx, EX_NEG, @$); $$->a = $2; $$->depth = $2->depth + 1; }
| '!' expr %prec UNARY          { $$ = mkexpr(ctx, EX_NOT, @$); $$->a = $2; $$->depth = $2->depth + 1; }
| expr '+' expr                 { $$ = mkbin(ctx, OP_ADD, $1, $3, @$); }
| expr '-' expr                 { $$ = mkbin(ctx, OP_SUB, $1, $3, @$); }
| expr '*' expr                 { $$ = mkbin(ctx, OP_MUL, $1, $3, @$); }
| expr '/' expr                 { $$ = mkbin(ctx, OP_DIV, $1, $3, @$); }
| expr '%' expr                 { $$ = mkbin(ctx, OP_MOD, $1, $3, @$); }
| expr '<' expr                 { $$ = mkbin(ctx, OP_LT, $1, $3, @$); }
| expr '>' expr                 { $$ = mkbin(ctx, OP_GT, $1, $3, @$); }
| expr LE expr                  { $$ = mkbin(ctx, OP_LE, $1, $3, @$); }
| expr GE expr                  { $$ = mkbin(ctx, OP_GE, $1, $3, @$); }
| expr EQ expr                  { $$ = mkbin(ctx, OP_EQ, $1, $3, @$); }
| expr NE expr                  { $$ = mkbin(ctx, OP_NE, $1, $3, @$); }
| expr AND expr                 { $$ = mkbin(ctx, OP_AND, $1, $3, @$); }
| expr OR expr                  { $$ = mkbin(ctx, OP_OR, $1, $3, @$); }
;

%%

/* Is the token named name (as in yysymbol_name: "')'", "integer") expected? */
static bool expects(const yysymbol_kind_t *exp, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(yysymbol_name(exp[i]), name) == 0) return true;
    return false;
}

/* "unexpected X; expected A, B or C" at the offending token, with a hint
 * for the common slips: arithmetic or commas outside parentheses, and an
 * end of file inside braces or parentheses. */
static int yyreport_syntax_error(const yypcontext_t *pc, void *scanner, ParseCtx *ctx) {
    enum { MAXEXP = 6 };
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(pc, exp, YYNTOKENS);
    yysymbol_kind_t tok = yypcontext_token(pc);
    Loc loc = L(ctx, *yypcontext_location(pc));
    char msg[512];
    int o = snprintf(msg, sizeof msg, "syntax error: unexpected %s",
                     tok == YYSYMBOL_YYEOF ? "end of file" : yysymbol_name(tok));
    if (n > 0 && n <= MAXEXP - 1) {
        o += snprintf(msg + o, sizeof msg - (size_t)o, "; expected ");
        for (int i = 0; i < n && o < (int)sizeof msg; i++)
            o += snprintf(msg + o, sizeof msg - (size_t)o, "%s%s",
                          i == 0 ? "" : i == n - 1 ? " or " : ", ", yysymbol_name(exp[i]));
    } else if (n > 0 && expects(exp, n, "integer") && !expects(exp, n, "end of line")) {
        o += snprintf(msg + o, sizeof msg - (size_t)o, "; expected a value");
    } else if (expects(exp, n, "')'") && expects(exp, n, "'+'")) {
        o += snprintf(msg + o, sizeof msg - (size_t)o, "; expected ')'%s or an operator",
                      expects(exp, n, "','") ? ", ','" : "");
    }
    /* in a layer's argument list: a value or the end of the statement may follow */
    bool in_args = expects(exp, n, "end of line") && expects(exp, n, "integer");
    const char *name = yysymbol_name(tok);
    if (in_args && o < (int)sizeof msg) {
        if (strcmp(name, "','") == 0)
            snprintf(msg + o, sizeof msg - (size_t)o,
                     " (separate arguments with spaces; commas go inside ( ))");
        else if (name[0] == '\'' && name[1] && strchr("+-*/%<>!=&|", name[1]) && strcmp(name, "'='") != 0)
            snprintf(msg + o, sizeof msg - (size_t)o,
                     " (arithmetic goes in parentheses, like (planes * 4))");
    }
    ctx->nerr_syntax++;
    diag_error(loc, "%s", msg);
    if (tok == YYSYMBOL_YYEOF) {
        Loc brace, paren;
        bool paren_open;
        if (lex_open(scanner, &brace, &paren, &paren_open) > 0)
            diag_note(brace, "this '{' is never closed");
        else if (paren_open)
            diag_note(paren, "this '(' is never closed");
    }
    return 0;
}

static void yyerror(YYLTYPE *l, void *scanner, ParseCtx *ctx, const char *msg) {
    (void)scanner;
    ctx->nerr_syntax++;
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "nesting too deep: the parser gives up here (braces and parentheses "
              "may nest a few thousand levels)";
    diag_error(L(ctx, *l), "%s", msg);
}

/* A binary file would give one "stray byte" error per run of bytes: say once
 * that it is not text instead.  Binary means a NUL byte, or at least 8 bytes
 * that are neither UTF-8 nor whitespace (a lone Latin-1 letter in a comment
 * is left to the scanner, which reports it where it is). */
static bool looks_binary(const SrcFile *f) {
    const unsigned char *p = (const unsigned char *)f->text, *end = p + f->len;
    const unsigned char *first = NULL;
    int nbad = 0;
    bool nul = false;
    while (p < end) {
        int n = 0;
        if (*p < 0x80) n = (*p >= 32 && *p != 127) || *p == '\n' || *p == '\t' || *p == '\r' ? 1 : 0;
        else if (*p >= 0xc2 && *p <= 0xf4) {
            int want = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
            n = want;
            for (int i = 1; i < want; i++)
                if (p + i >= end || (p[i] & 0xc0) != 0x80) n = 0;
        }
        if (n == 0) {
            if (!first) first = p;
            nul |= *p == 0;
            nbad++;
            p++;
        } else {
            p += n;
        }
    }
    if (!first || (!nul && nbad < 8)) return false;
    Loc loc = loc_none(f);
    for (const char *q = f->text; q < (const char *)first; q++) {
        if (*q == '\n') { loc.line++; loc.col = 1; }
        else loc.col++;
    }
    diag_error(loc, "this is not a text file: byte 0x%02x here is not UTF-8 text%s",
               *first, nul ? " (the file has NUL bytes)" : "");
    return true;
}

Stmt *parse_text(const SrcFile *file) {
    ParseCtx ctx = { .file = file };
    if (looks_binary(file))
        return NULL;
    ctx.scanner = lex_begin(file);
    if (!ctx.scanner) {
        diag_error(loc_none(file), "cannot start the scanner");
        return NULL;
    }
    yyparse(ctx.scanner, &ctx);
    lex_end(ctx.scanner);
    return ctx.result;
}
