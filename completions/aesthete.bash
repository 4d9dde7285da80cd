# The logic of the bash completion of aesthete. doc/cli-docs.sh writes the installed file:
# the tables of commands, options and subcommands it reads from `aesthete --help` and each
# `aesthete COMMAND --help`, then this file.
#   _aesthete_commands                the commands
#   _aesthete_global_options          the options of aesthete itself
#   _aesthete_options[CMD]            the options of CMD
#   _aesthete_subcommands[CMD]        the subcommands of CMD (bank build, cache stats, ...)
# Needs nothing of the bash-completion package; words that are no option complete as file
# names (complete -o default).

_aesthete() {
    local cur="${COMP_WORDS[COMP_CWORD]}" cmd="" at=0 i
    COMPREPLY=()
    # the command: the first word after aesthete that is not an option
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; at=$i; break ;;
        esac
    done
    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$_aesthete_global_options" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$_aesthete_commands" -- "$cur"))
        fi
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${_aesthete_options[$cmd]-}" -- "$cur"))
        return
    fi
    # right after the command: its subcommand, when it has some
    if ((COMP_CWORD == at + 1)) && [ -n "${_aesthete_subcommands[$cmd]-}" ]; then
        COMPREPLY=($(compgen -W "${_aesthete_subcommands[$cmd]}" -- "$cur"))
    fi
}
complete -o default -F _aesthete aesthete
