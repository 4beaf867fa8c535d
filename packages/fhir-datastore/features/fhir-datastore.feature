Feature: FHIR datastore: the shared health record speaks FHIR R4

  Scenario: The CapabilityStatement describes the server
    Given the request header "accept" is "application/fhir+json"
    When I send a GET request to "${SHARED_HEALTH_RECORD_FHIR_URL}/metadata"
    Then the response status is 200
    And the response JSON at "resourceType" is "CapabilityStatement"
    And the response JSON at "fhirVersion" is "4.0.1"

  Scenario: A patient is created, versioned and found
    When I send a POST request to "${SHARED_HEALTH_RECORD_FHIR_URL}/Patient" with the FHIR resource:
      """
      { "resourceType": "Patient", "name": [{ "family": "Banda", "given": ["Chikondi"] }], "birthDate": "1984-11-02" }
      """
    Then the response status is 201
    And I remember the response JSON at "id" as "PATIENT_ID"
    When I send a PUT request to "${SHARED_HEALTH_RECORD_FHIR_URL}/Patient/${PATIENT_ID}" with the FHIR resource:
      """
      { "resourceType": "Patient", "id": "${PATIENT_ID}", "name": [{ "family": "Banda", "given": ["Chikondi", "Grace"] }], "birthDate": "1984-11-02" }
      """
    Then the response status is 200
    And the response JSON at "meta.versionId" is "2"
    When I send a GET request to "${SHARED_HEALTH_RECORD_FHIR_URL}/Patient?family=banda&birthdate=1984-11-02"
    Then the response status is 200
    And the response JSON at "total" is at least 1

  Scenario: An unknown resource type gets an OperationOutcome
    When I send a GET request to "${SHARED_HEALTH_RECORD_FHIR_URL}/Spaceship/1"
    Then the response status is 404
    And the response JSON at "resourceType" is "OperationOutcome"
