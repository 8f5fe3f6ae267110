# bash completion for foyerctl(8); installed as
# share/bash-completion/completions/foyerctl.  Commands and their options
# follow `foyerctl COMMAND --help` (tests/integration/foyerctl_help.sh
# checks that every command and long option is here); dwelling and building
# IDs are read from the [dwelling ID] and [building ID] sections of the
# config (--config, else $FOYER_CONFIG, else /etc/foyer/foyer.conf).

_foyerctl_ids() { # section-kind config
    local f=$2
    [ -r "$f" ] || return 0
    sed -n "s/^[[:space:]]*\[$1[[:space:]]\{1,\}\([^]]*\)\].*/\1/p" "$f" 2>/dev/null
}

_foyerctl() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local commands="status events import export summary alerts token tenancy consent access-log erase"
    local config=${FOYER_CONFIG:-/etc/foyer/foyer.conf} cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        -c | --config) config=${words[i + 1]}; ((i++)) ;;
        -*) ;;
        *) cmd=${words[i]}; break ;;
        esac
    done
    case $prev in
    -c | --config | -o | --output)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    -d | --dwelling)
        COMPREPLY=($(compgen -W "$(_foyerctl_ids dwelling "$config")" -- "$cur")); return ;;
    -b | --building)
        COMPREPLY=($(compgen -W "$(_foyerctl_ids building "$config")" -- "$cur")); return ;;
    -g | --granularity)
        COMPREPLY=($(compgen -W "hour day month" -- "$cur")); return ;;
    -l | --lang)
        COMPREPLY=($(compgen -W "fr en" -- "$cur")); return ;;
    -f | --format)
        [ "$cmd" = summary ] && { COMPREPLY=($(compgen -W "text json" -- "$cur")); return; }
        [ "$cmd" = export ] && [ "$prev" = --format ] && { COMPREPLY=($(compgen -W "json csv" -- "$cur")); return; } ;;
    -F)
        [ "$cmd" = export ] && { COMPREPLY=($(compgen -W "json csv" -- "$cur")); return; } ;;
    -j | --dju)
        COMPREPLY=($(compgen -W "meteo-france costic" -- "$cur")); return ;;
    -p | --purpose)
        [ "$cmd" = consent ] && { COMPREPLY=($(compgen -W "load_curve sharing" -- "$cur")); return; } ;;
    -r | --role)
        [ "$cmd" = token ] && { COMPREPLY=($(compgen -W "tenant ambassador energy-team" -- "$cur")); return; } ;;
    --buildings)
        COMPREPLY=($(compgen -W "$(_foyerctl_ids building "$config")" -- "$cur")); return ;;
    -s | --since | -t | --to | -p | --period | --name | --expires | -D | --date | --ref)
        return ;;
    esac
    [ "$cmd" = export ] && case $prev in -f | --from) return ;; esac
    local opts
    case $cmd in
    "") opts="--config --version --help $commands" ;;
    status) opts="--wide --json --help" ;;
    events) opts="--since --dwelling --json --help" ;;
    import) opts="--help"
        [[ $cur != -* ]] && { COMPREPLY=($(compgen -f -X '!*.csv' -- "$cur") $(compgen -d -- "$cur")); return; } ;;
    export) opts="--granularity --from --to --dwelling --building --all-data --format --output --help" ;;
    summary) opts="--dwelling --period --lang --format --dju --help" ;;
    alerts)
        case " ${words[*]:i+1:cword-i-1} " in
        *" ack "*) opts="--note --help" ;;
        *" close "*) opts="--help" ;;
        *) opts="ack close --building --dwelling --all --json --lang --help" ;;
        esac ;;
    token)
        case " ${words[*]:i+1:cword-i-1} " in
        *" create "*) opts="--role --dwelling --buildings --name --expires --pairing --help" ;;
        *" list "*) opts="--json --help" ;;
        *" revoke "*) opts="--help" ;;
        *) opts="create list revoke --help" ;;
        esac ;;
    tenancy)
        case " ${words[*]:i+1:cword-i-1} " in
        *" start "*) opts="--dwelling --date --ref --help" ;;
        *" end "*) opts="--dwelling --date --help" ;;
        *" list "*) opts="--dwelling --json --help" ;;
        *) opts="start end list --help" ;;
        esac ;;
    access-log) opts="--dwelling --since --json --help" ;;
    erase) opts="--dwelling --before --force --help" ;;
    consent)
        case " ${words[*]:i+1:cword-i-1} " in
        *" set "* | *" withdraw "*) opts="--dwelling --purpose --help" ;;
        *" list "*) opts="--dwelling --json --help" ;;
        *) opts="set withdraw list --help" ;;
        esac ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _foyerctl foyerctl
