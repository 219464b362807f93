# Runs one example (cmake -DPROGRAM=... -DEXPECT=regex [-DARGS=a;b] -P run_example.cmake) with no
# API key in its environment, and fails unless it exits with 0 AND its output matches EXPECT.
foreach(variable DASHSCOPE_API_KEY OPENAI_API_KEY DEEPSEEK_API_KEY LLMSTREAM_MODEL)
  unset(ENV{${variable}})
endforeach()
execute_process(COMMAND ${PROGRAM} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} exited with ${rc}")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "${PROGRAM}: the output does not match '${EXPECT}'")
endif()
